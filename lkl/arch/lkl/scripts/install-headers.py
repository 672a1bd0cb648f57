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
TAG = re.compile(r'\b(?:struct|union|enum)\s+([A-Za-z_][A-Za-z0-9_]*)')
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


def collect(text, macros, others):
    code = COMMENT.sub(' ', text)
    macros.update(DEFINE.findall(code))
    others.update(TAG.findall(code))
    for body in TYPEDEF.findall(code):
        body = re.sub(r'\{.*\}', ' ', body, flags=re.S)
        m = re.search(r'\(\s*\*\s*([A-Za-z_]\w*)\s*\)', body)
        if m:
            others.add(m.group(1))
            continue
        names = re.findall(r'([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*(?:__attribute__\s*\(\(.*\)\)\s*)?$', body.strip())
        if names:
            others.add(names[-1])
    for body in ENUM_BODY.findall(code):
        for item in body.split(','):
            m = re.match(r'\s*([A-Za-z_]\w*)', item)
            if m:
                macros.add(m.group(1))


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
