/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xml_util.h: UTF-8 and XML text helpers shared by the plugins of this
 * tree: checking that a string is UTF-8 an XML 1.0 document can carry,
 * escaping it for element content, reading an xs:boolean, and making a
 * peer's text fit for a log line. No XML parser here: these are plain
 * string functions (the LDAP plugin uses the UTF-8 decoder alone).
 */
#ifndef MPS_XML_UTIL_H
#define MPS_XML_UTIL_H

#include <stddef.h>

/*
 * Decodes one UTF-8 sequence at s, of which len bytes (at least 1) may be
 * read. Returns its length and the code point in *cp, or 0 when the bytes
 * are not shortest-form UTF-8 of a scalar value: truncated, a stray
 * continuation byte, overlong, a surrogate, or above U+10FFFF.
 */
size_t mps_pu_utf8_decode(const unsigned char *s, size_t len,
    unsigned long *cp);

/* Whether s is UTF-8 text that XML 1.0 can carry (its Char production). */
int mps_pu_xml_text_ok(const char *s);

/*
 * Escapes s for element content into out, which must have room for the
 * length returned (no NUL is written); with out NULL, only counts. CR goes
 * as a character reference: a literal one would reach the peer as LF
 * (XML 1.0, 2.11, end-of-line handling). Check s with mps_pu_xml_text_ok
 * first: the escaping does not.
 */
size_t mps_pu_xml_escape(char *out, const char *s);

/*
 * An xs:boolean (XML Schema 2, 3.2.2) in s[0..len), XML white space around
 * it ignored: 1 for true or 1, 0 for false or 0, -1 for anything else.
 */
int mps_pu_xs_boolean(const char *s, size_t len);

/*
 * Copies src[0..len) into dst (of dstsize >= 4 bytes) for a log line:
 * control characters become spaces, runs of blanks one space, and the
 * ends are trimmed. Text cut short (cut set by the caller, or for want of
 * room in dst) ends with "..." and is cut on a UTF-8 character boundary.
 */
void mps_pu_printable(char *dst, size_t dstsize, const char *src,
    size_t len, int cut);

#endif /* MPS_XML_UTIL_H */
