#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Install the kernel's uapi headers under lkl/ with every name they define
prefixed, so that a C file can include them next to libc's headers.

  macros   O_RDONLY -> LKL_O_RDONLY    __NR_read -> __LKL_NR_read
  types    struct stat -> struct lkl_stat    __u32 -> __lkl_u32
  includes <linux/stat.h> -> <lkl/linux/stat.h>

usage: install-headers.py UAPI_INCLUDE_DIR OUTPUT_DIR
"""
import os
import re
import sys

IDENT = re.compile(r'\b[A-Za-z_][A-Za-z0-9_]*\b')
DEFINE = re.compile(r'^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)', re.M)
TYPEDEF = re.compile(r'\btypedef\b([^;{]*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})?[^;]*);', re.S)
ENUM_BODY = re.compile(r'\benum\b[^{;]*\{([^}]*)\}', re.S)
INCLUDE = re.compile(r'^(\s*#\s*include\s*<)([^>]+)(>)', re.M)
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)


def prefixed(name, macro):
    prefix = 'LKL_' if macro else 'lkl_'
    if name.startswith('__'):
        return '__' + prefix + name[2:]
    if name.startswith('_'):
        return '_' + prefix + name[1:]
    return prefix + name


KEYWORDS = set("""auto break case char const continue default do double else enum
extern float for goto if inline int long register restrict return short signed
sizeof static struct switch typedef union unsigned void volatile while
_Bool _Complex __attribute__ __extension__ __inline__ __volatile__ __asm__
__signed__ __const__ __restrict__ __typeof__ typeof asm""".split())
TOKEN = re.compile(r'[A-Za-z_]\w*|\S')
PREPROC = re.compile(r'^\s*#.*?(?<!\\)$', re.M | re.S)


def collect(text, macros, others):
    """Names a header defines: macros, struct/union/enum tags, typedef
    names and enumerators.  Member names are never collected."""
    code = COMMENT.sub(' ', text)
    macros.update(DEFINE.findall(code))
    code = PREPROC.sub(' ', code)
    tokens = TOKEN.findall(code)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ('struct', 'union', 'enum') and i + 1 < len(tokens) and \
                re.match(r'[A-Za-z_]', tokens[i + 1]) and tokens[i + 1] not in KEYWORDS:
            others.add(tokens[i + 1])
        if tok == 'enum':
            j = i + 1
            while j < len(tokens) and tokens[j] not in ('{', ';'):
                j += 1
            if j < len(tokens) and tokens[j] == '{':
                depth, expect = 0, True
                j += 1
                while j < len(tokens) and not (tokens[j] == '}' and depth == 0):
                    t = tokens[j]
                    if t == '(':
                        depth += 1
                    elif t == ')':
                        depth -= 1
                    elif t == ',' and depth == 0:
                        expect = True
                    elif expect and re.match(r'[A-Za-z_]', t):
                        if t not in KEYWORDS:
                            macros.add(t)
                        expect = False
                    j += 1
        if tok == 'typedef':
            j, depth, name, paren_name = i + 1, 0, None, None
            while j < len(tokens) and not (tokens[j] == ';' and depth == 0):
                t = tokens[j]
                if t in '{(':
                    if t == '(' and depth == 0 and j + 2 < len(tokens) and tokens[j + 1] == '*':
                        paren_name = paren_name or tokens[j + 2]
                    depth += 1
                elif t in '})':
                    depth -= 1
                elif depth == 0 and re.match(r'[A-Za-z_]', t) and t not in KEYWORDS \
                        and t != '__attribute__':
                    name = t
                j += 1
            chosen = paren_name or name
            if chosen and chosen not in KEYWORDS:
                others.add(chosen)
            i = j
        i += 1
    for name in list(macros):
        if name in KEYWORDS:
            macros.discard(name)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    files = []
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith('.h'):
                files.append(os.path.relpath(os.path.join(root, n), src))
    top_dirs = {f.split('/')[0] for f in files if '/' in f}
    texts = {f: open(os.path.join(src, f), encoding='utf-8', errors='replace').read() for f in files}

    macros, others = set(), set()
    for text in texts.values():
        collect(text, macros, others)
    renames = {n: prefixed(n, False) for n in others}
    renames.update({n: prefixed(n, True) for n in macros})

    def fix_include(m):
        path = m.group(2).strip()
        if path.split('/')[0] in top_dirs:
            path = 'lkl/' + path
        return m.group(1) + path + m.group(3)

    def fix_ident(m):
        return renames.get(m.group(0), m.group(0))

    for f, text in texts.items():
        lines = []
        for line in text.split('\n'):
            if INCLUDE.match(line):
                lines.append(INCLUDE.sub(fix_include, line))
            else:
                lines.append(IDENT.sub(fix_ident, line))
        out = os.path.join(dst, f)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, 'w', encoding='utf-8') as fh:
            fh.write('\n'.join(lines))
    print('  HDRINST %d headers, %d names prefixed' % (len(files), len(renames)))


if __name__ == '__main__':
    main()
