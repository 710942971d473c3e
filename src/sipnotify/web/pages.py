"""The fixed pages of the HTTP server, as Asterisk's main/http.c and manager.c write them
(behaviour: AMI over HTTP): the error pages (404, 401, 400, 503), the `/httpstatus` page, and
the frame of the `/manager` and `/amanager` tester pages. Where Asterisk prints its own name,
sipnotify prints `servername` (the error pages) or its own name (titles). Sans I/O: text in,
text out.
"""

from __future__ import annotations

from html import escape

PRODUCT = "sipnotify"

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    503: "Service Unavailable",
}
NOT_FOUND_TEXT = "The requested URL was not found on this server."


def reason(status: int) -> str:
    return _REASONS.get(status, "Error")


def error_page(status: int, text: str, servername: str) -> str:
    """ast_http_error()'s page: CRLF lines, the server's name in the address line."""
    title = f"{status} {reason(status)}"
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n'
        f"<html><head>\r\n<title>{title}</title>\r\n</head><body>\r\n"
        f"<h1>{reason(status)}</h1>\r\n<p>{escape(text)}</p>\r\n<hr />\r\n"
        f"<address>{escape(servername)}</address>\r\n</body></html>\r\n"
    )


def status_page(servername: str, prefix: str, bound: list[str]) -> str:
    """`/httpstatus` (http.conf `enable_status = yes`)."""
    rows = "".join(
        f"<tr><td><i>Bind Address</i></td><td><b>{escape(address)}</b></td></tr>\r\n"
        for address in bound
    )
    return (
        f"<html><title>{PRODUCT} HTTP Status</title>\r\n"
        '<body bgcolor="#ffffff">\r\n'
        '<table bgcolor="#f1f1f1" align="center"><tr><td bgcolor="#e0e0ff" colspan="2" '
        'width="500">\r\n'
        f"<h2>&nbsp;&nbsp;{PRODUCT} HTTP Status</h2></td></tr>\r\n"
        f"<tr><td><i>Server</i></td><td><b>{escape(servername)}</b></td></tr>\r\n"
        f"<tr><td><i>Prefix</i></td><td><b>{escape(prefix)}</b></td></tr>\r\n"
        f"{rows}"
        '<tr><td colspan="2"><hr></td></tr>\r\n'
        '<tr><td colspan="2"><hr></td></tr>\r\n'
        "</table></body></html>\r\n"
    )


MANAGER_HEAD = (
    f"<title>{PRODUCT} Manager Interface</title>"
    '<body bgcolor="#ffffff"><table align=center bgcolor="#f1f1f1" width="500">\r\n'
    '<tr><td colspan="2" bgcolor="#f1f1ff"><h1>Manager Tester</h1></td></tr>\r\n'
    '<tr><td colspan="2" bgcolor="#f1f1ff"><form action="manager" method="post">\n'
    '\tAction: <select name="action">\n'
    '\t\t<option value="">-----&gt;</option>\n'
    '\t\t<option value="login">login</option>\n'
    '\t\t<option value="command">Command</option>\n'
    '\t\t<option value="waitevent">waitevent</option>\n'
    '\t\t<option value="listcommands">listcommands</option>\n'
    "\t</select>\n"
    '\tor <input name="action"><br/>\n'
    '\tCLI Command <input name="command"><br>\n'
    '\tuser <input name="username"> pass <input type="password" name="secret"><br>\n'
    '\t<input type="submit">\n'
    "</form>\n"
    "</td></tr>\r\n"
)
MANAGER_TAIL = "</table></body>\r\n"

AMANAGER_HEAD = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n'
    f"<html><head>\r\n<title>{PRODUCT} Manager Interface</title>\r\n"
    '</head><body style="background-color: #ffffff;">\r\n'
    '<form method="POST">\r\n'
    '<table align="center" style="background-color: #f1f1f1;" width="500">\r\n'
    '<tr><th colspan="2" style="background-color: #f1f1ff;"><h1>Manager Tester</h1></th></tr>'
    "\r\n"
    '<tr><th colspan="2" style="background-color: #f1f1ff;">Action: <input name="action" /> '
    'Cmd: <input name="command" /><br><input type="submit" value="Send request" /></th></tr>'
    "\r\n"
)
AMANAGER_TAIL = "</table></form></body></html>\r\n"
