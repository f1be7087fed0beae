#!/usr/bin/env python3
"""csp-hash.py - prints (or, with --update, rewrites) the SHA-256 of the HTML
report's inline script in src/htmlreport.c, as its Content-Security-Policy
needs it: base64 of the digest of the script's exact text. Run it after
editing the script; tests/cli/check_html.py checks the page agrees."""
import ast, base64, hashlib, re, sys, pathlib

src = pathlib.Path(__file__).resolve().parent.parent / "src" / "htmlreport.c"
text = src.read_text()
body = re.search(r"static const char script\[\] =(.*?);\n", text, re.S).group(1)
script = "".join(ast.literal_eval(x) for x in re.findall(r'"(?:[^"\\]|\\.)*"', body))
digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
if "--update" in sys.argv:
    text = re.sub(r'#define HTMLREPORT_SCRIPT_SHA256 "[^"]*"',
                  f'#define HTMLREPORT_SCRIPT_SHA256 "{digest}"', text)
    src.write_text(text)
print(digest)
