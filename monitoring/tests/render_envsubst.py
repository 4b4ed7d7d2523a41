#!/usr/bin/env python3
"""Render an envsubst-syntax template (the subset a8m/envsubst implements and
`model-server stack` mirrors): $VAR, ${VAR}, ${VAR-default}, ${VAR:-default},
${VAR=default}, ${VAR:=default}, ${VAR+other}, ${VAR:+other}; `$$` is a literal `$`.
Unset variables become empty strings. Defaults may themselves contain $VAR.

GNU envsubst (gettext-base) only knows $VAR and ${VAR}: it leaves ${VAR:-x}
untouched, so it cannot render monitoring/alertmanager/alertmanager.yml.

usage: render_envsubst.py < template > rendered
"""
import os
import re
import sys

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render(text, env=None):
    env = os.environ if env is None else env
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            # find the matching brace (defaults may nest ${...})
            depth, j = 1, i + 2
            while j < n and depth:
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise ValueError("unterminated ${ at offset %d" % i)
            body = text[i + 2:j - 1]
            m = NAME.match(body)
            if not m:
                raise ValueError("bad variable expression ${%s}" % body)
            name, rest = m.group(0), body[m.end():]
            val = env.get(name)
            if rest == "":
                out.append(val or "")
            else:
                op = next((o for o in (":-", ":=", ":+", "-", "=", "+") if rest.startswith(o)), None)
                if op is None:
                    raise ValueError("unsupported expression ${%s}" % body)
                arg = render(rest[len(op):], env)
                empty_counts = op.startswith(":")
                is_set = val is not None and (val != "" or not empty_counts)
                if op.endswith("+"):
                    out.append(arg if is_set else "")
                else:
                    out.append(val if is_set else arg)
            i = j
            continue
        m = NAME.match(text, i + 1)
        if m:
            out.append(env.get(m.group(0), ""))
            i = m.end()
            continue
        out.append("$")
        i += 1
    return "".join(out)


if __name__ == "__main__":
    sys.stdout.write(render(sys.stdin.read()))
