/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_page.c: GET /, the status page.
 *
 * Rendered on the server, so that it shows the devices with JavaScript
 * off and the first paint needs no second request. A few lines of plain
 * JavaScript (no framework) add the search box and refresh the table
 * every 10 s from /api/v1/devices; without JavaScript a <noscript> meta
 * refresh reloads the page instead. The page is served under the same
 * bearer token as the API (a browser gets it from a reverse proxy that
 * adds the header; see mpsd(8)), and its fetches go to the same origin,
 * so they carry it the same way.
 *
 * Everything taken from devices (FQDN, peer) is HTML-escaped: a device
 * chooses its FQDN, and the page must not run what a device wrote.
 */
#include "admin_priv.h"

#include <stdio.h>
#include <stdlib.h>

#define REFRESH_SECONDS 10

static void
esc(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out); break;
		}
	}
}

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ccc;padding:.3em .6em;text-align:left}"
    "th{background:#f0f0f0}td.n{text-align:right}"
    ".counts span{margin-right:2em}input{margin:1em 0;padding:.3em;width:20em}";

/* Rebuilds the rows from the API and keeps the search applied. */
static const char script[] =
    "(function(){\n"
    "var q=document.getElementById('q'),body=document.getElementById('rows');\n"
    "function filter(){var t=q.value.toLowerCase();"
    "Array.prototype.forEach.call(body.rows,function(r){"
    "r.style.display=r.textContent.toLowerCase().indexOf(t)<0?'none':'';});}\n"
    "function cell(r,v,n){var c=r.insertCell();c.textContent=v;"
    "if(n)c.className='n';}\n"
    "function refresh(){fetch('/api/v1/devices',{credentials:'same-origin'})"
    ".then(function(x){if(!x.ok)throw x.status;return x.json();})"
    ".then(function(j){body.innerHTML='';j.devices.forEach(function(d){"
    "var r=body.insertRow();cell(r,d.uuid);cell(r,d.fqdn||'-');cell(r,d.peer);"
    "cell(r,d.ports.join(', ')||'-');cell(r,d.connected_since);"
    "cell(r,d.bytes_in,1);cell(r,d.bytes_out,1);cell(r,d.channels,1);});"
    "document.getElementById('ndev').textContent=j.count;"
    "document.body.setAttribute('data-refreshed',new Date().toISOString());"
    "filter();}).catch(function(e){"
    "document.body.setAttribute('data-refresh-error',String(e));});}\n"
    "q.addEventListener('input',filter);\n"
    "setInterval(refresh,%d000);refresh();\n"
    "})();\n";

int
mps_admin_page_html(mps_admin_t *a, char **html, size_t *len)
{
	mps_admin_status_t st;
	mps_admin_device_t *d;
	size_t n, i, j;
	char when[32];
	FILE *out;

	*html = NULL;
	*len = 0;
	mps_admin_collect_status(a, &st);
	d = mps_admin_collect_devices(a, &n);
	out = open_memstream(html, len);
	if (out == NULL) {
		free(d);
		return -1;
	}
	mps_admin_iso8601(st.started, when, sizeof(when));
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>mpsd status</title>"
	    "<noscript><meta http-equiv=\"refresh\" content=\"%d\"></noscript>"
	    "<style>%s</style></head>\n<body>\n<h1>mpsd %s</h1>\n"
	    "<p class=\"counts\"><span>Devices: <b id=\"ndev\">%u</b></span>"
	    "<span>Connections: <b>%u</b></span>"
	    "<span>Channels: <b>%lld</b></span>"
	    "<span>Up since: <b>%s</b> (%lld s)</span>"
	    "<span>PID: %ld</span></p>\n"
	    "<label>Search: <input id=\"q\" type=\"search\" "
	    "placeholder=\"UUID, FQDN, address\" autofocus></label>\n"
	    "<table><thead><tr><th>UUID</th><th>FQDN</th><th>Peer</th>"
	    "<th>Ports</th><th>Connected since</th><th>Bytes in</th>"
	    "<th>Bytes out</th><th>Channels</th></tr></thead>\n"
	    "<tbody id=\"rows\">\n", REFRESH_SECONDS, style, st.version,
	    st.devices, st.connections, (long long)st.channels, when,
	    (long long)apr_time_sec(st.now - st.started), st.pid);
	for (i = 0; i < n; i++) {
		mps_admin_iso8601(d[i].connected_at, when, sizeof(when));
		fputs("<tr><td>", out);
		esc(out, d[i].uuid);
		fputs("</td><td>", out);
		esc(out, d[i].fqdn[0] != '\0' ? d[i].fqdn : "-");
		fputs("</td><td>", out);
		esc(out, d[i].peer);
		fputs("</td><td>", out);
		for (j = 0; j < d[i].nports; j++)
			fprintf(out, "%s%u", j > 0 ? ", " : "",
			    (unsigned)d[i].ports[j]);
		if (d[i].nports == 0)
			fputs("-", out);
		fprintf(out, "</td><td>%s</td><td class=\"n\">%llu</td>"
		    "<td class=\"n\">%llu</td><td class=\"n\">%u</td></tr>\n",
		    when, (unsigned long long)d[i].bytes_in,
		    (unsigned long long)d[i].bytes_out, d[i].channels);
	}
	fputs("</tbody></table>\n<script>", out);
	fprintf(out, script, REFRESH_SECONDS);
	fputs("</script>\n</body></html>\n", out);
	free(d);
	if (fclose(out) != 0 || *html == NULL) {
		free(*html);
		*html = NULL;
		return -1;
	}
	return 0;
}
