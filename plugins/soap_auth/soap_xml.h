/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_xml.h: the SOAP messages of the MPSAuthentication interface
 * (config/MPSAuthentication.wsdl, from the product guide, 7.2.2).
 *
 * The request is SOAP 1.1, document/literal, elementFormDefault
 * qualified:
 *
 *   Envelope/Body/mpa:AuthenticateRequest/
 *       {mpa:AuthenticateId, mpa:AuthenticatePassword}
 *
 * The response must be Envelope/Body/AuthenticateResponse/
 * AuthenticateResult (an xs:boolean), or a SOAP 1.1 Fault. Any prefixes
 * are accepted (names are compared by namespace URI), and so is an
 * AuthenticateResult in no namespace, which toolkits with unqualified
 * element forms send.
 */
#ifndef MPS_SOAP_XML_H
#define MPS_SOAP_XML_H

#include <stddef.h>

#define SOAP_ENV_NS	"http://schemas.xmlsoap.org/soap/envelope/"
#define SOAP_MPA_NS \
	"http://schemas.intel.com/platform/client/MPSAuthentication/2006/01"
#define SOAP_ACTION	SOAP_MPA_NS "/Authenticate"

/* Largest response accepted, in bytes: a real one is a few hundred. */
#define SOAP_RESPONSE_MAX	(64 * 1024)

/* Longest faultcode and faultstring kept (longer ones are cut). */
#define SOAP_FAULTCODE_MAX	128
#define SOAP_FAULTSTRING_MAX	512

enum soap_outcome {
	SOAP_GRANTED,		/* AuthenticateResult true */
	SOAP_DENIED,		/* AuthenticateResult false */
	SOAP_FAULT,		/* a Fault: faultcode, faultstring */
	SOAP_INVALID		/* anything else: error says why */
};

struct soap_response {
	enum soap_outcome outcome;
	char faultcode[SOAP_FAULTCODE_MAX + 4];		/* + "..." */
	char faultstring[SOAP_FAULTSTRING_MAX + 4];
	char error[256];
};

/*
 * Builds the AuthenticateRequest envelope for user and password into a
 * new malloc'd buffer (*body, *len, NUL-terminated). Both are escaped
 * for XML. Returns 0; or -1 with a reason in err (which never quotes
 * them) when either is not UTF-8 or holds a character XML 1.0 cannot
 * carry (controls other than tab, LF and CR), or when out of memory.
 * The buffer holds the password: wipe it before freeing.
 */
int mps_soap_build_request(const char *user, const char *password,
    char **body, size_t *len, char *err, size_t errsize);

/*
 * Parses a response body (at most SOAP_RESPONSE_MAX bytes; the caller
 * enforces that) into r. A DOCTYPE, malformed XML, a missing element or
 * an AuthenticateResult that is no xs:boolean give SOAP_INVALID.
 * Fault texts are made printable (control characters become spaces) and
 * cut to their maximum; before that, every occurrence of one of the
 * nsecrets secrets (NULL or empty ones are skipped) becomes "***".
 * Thread-safe.
 */
void mps_soap_parse_response(const char *data, size_t len,
    const char *const *secrets, size_t nsecrets, struct soap_response *r);

#endif /* MPS_SOAP_XML_H */
