#!/usr/bin/env python3
"""Makes the browser bundle's files from wasm-split's and wasm-bindgen's output (scripts/build.sh).

Usage: bundle.py STAGE PKG CSS [--compress]

STAGE holds `split/` (wasm-split: the pages' modules `split_*.wasm`, the code they share
`chunk_*.wasm`, their loader `__wasm_split.js`) and `bindgen/` (wasm-bindgen over the main module:
`meridian_bg.wasm`, `meridian.js`). Every file is named by a hash of its content, so a browser keeps
it for a year (the server marks `/pkg` immutable) and a new build is a new address:

- a module: its own hash, after its custom sections (names, producers) are dropped;
- the glue `meridian.js` and the loader import each other, so both carry one hash of the two;
- the manifest (a page's split name -> the modules it needs) lets the server list, in the page it
  renders, the modules its page needs, for the browser to fetch them alongside the main one.

`hash.txt` lists the names (`js:`, `wasm:`, `css:`, `split:`, `manifest:`) for the server and
Leptos; it is written last, so a server never reads the names of files not yet there. The files of
the last few builds stay (`KEEP_BUILDS`), so a page opened before a rebuild can still load its
pages' code.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path


def leb128(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def without_custom_sections(wasm: bytes) -> bytes:
    """The module without its custom sections (id 0): names and producers, unused by browsers."""
    assert wasm[:4] == b"\0asm", "not a WebAssembly module"
    out = bytearray(wasm[:8])
    at = 8
    while at < len(wasm):
        start = at
        section = wasm[at]
        size, at = leb128(wasm, at + 1)
        end = at + size
        if section != 0:
            out += wasm[start:end]
        at = end
    return bytes(out)


def short_hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


def replace_exactly(text: str, old: str, new: str, at_least: int = 1) -> str:
    """Replaces `old`, which must be there: a new wasm-split or wasm-bindgen that writes its names
    differently fails the build here instead of shipping a bundle that cannot load its pages."""
    count = text.count(old)
    if count < at_least:
        sys.exit(f"bundle.py: expected {old!r} in the generated JavaScript")
    return text.replace(old, new)


# How many builds' files stay in PKG: a page opened before a new build was served still loads
# the modules of its pages when clicked (they are asked for by their old names), for a while.
KEEP_BUILDS = 3


def keep_recent_builds(pkg: Path, names: dict[str, str], files: dict[str, bytes]) -> None:
    """Lists this build's files in `pkg/builds/`, and deletes the bundle files no recent build lists."""
    builds = pkg / "builds"
    builds.mkdir(exist_ok=True)
    (builds / f"{names['js']}.{names['wasm']}.txt").write_text("".join(f"{name}\n" for name in files))
    recent = sorted(builds.glob("*.txt"), key=lambda listing: listing.stat().st_mtime)[-KEEP_BUILDS:]
    for listing in builds.glob("*.txt"):
        if listing not in recent:
            listing.unlink()
    kept = {name for listing in recent for name in listing.read_text().split()}
    for old in pkg.iterdir():
        bundled = re.match(r"(meridian|split_|chunk_|__wasm_split)", old.name)
        if bundled and old.is_file() and re.sub(r"\.(br|gz)$", "", old.name) not in kept:
            old.unlink()


def main() -> None:
    stage, pkg, css = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    compress = "--compress" in sys.argv[4:]
    split, bindgen = stage / "split", stage / "bindgen"
    files: dict[str, bytes] = {}

    # The modules loaded on demand, each by its own content.
    loader = (split / "__wasm_split.js").read_text()
    renamed: dict[str, str] = {}
    for module in sorted(split.glob("*.wasm")):
        if module.name == "meridian.wasm":
            continue  # the main module, which wasm-bindgen made into bindgen/meridian_bg.wasm
        wasm = without_custom_sections(module.read_bytes())
        stem = f"{module.stem}.{short_hash(wasm)}"
        renamed[module.stem] = stem
        files[f"{stem}.wasm"] = wasm
        loader = replace_exactly(loader, f'"./{module.name}"', f'"./{stem}.wasm"')

    # Which modules each page needs, read from the loader: a page's loader names its module and the
    # shared ones it waits for, each of which names its own.
    loads = {}
    pattern = re.compile(
        r'(?:const (__chunk_\d+) = makeLoad|export const __wasm_split_load_(\w+) = wrapAsyncCb\(makeLoad)'
        r'\(\(\) => \{\s*const src = fetch\(new URL\("\./([\w.]+)\.wasm", import\.meta\.url\)\);.*?\}\s*,\s*\[(.*?)\]\)',
        re.S,
    )
    for found in pattern.finditer(loader):
        name = found.group(1) or found.group(2)
        loads[name] = (found.group(3), [dep.strip() for dep in found.group(4).split(",") if dep.strip()])
    pages = [name for name in loads if not name.startswith("__chunk_")]
    if len(pages) != len(list(split.glob("split_*.wasm"))):
        sys.exit("bundle.py: could not read every page's modules from __wasm_split.js")
    manifest = {}
    for page in pages:
        needed, todo = [], [page]
        while todo:
            name = todo.pop()
            stem, deps = loads[name]
            if stem not in needed:
                needed.append(stem)
                todo.extend(deps)
        manifest[page] = sorted(needed)

    # The glue and the loader import each other: one hash of the two names both.
    glue = (bindgen / "meridian.js").read_text()
    pair = short_hash(glue.encode(), loader.encode())
    # Only where the glue imports the loader: the same string is also the name of the main
    # module's imports, which must stay what the module asks for.
    glue = replace_exactly(glue, 'from "./__wasm_split.js"', f'from "./__wasm_split.{pair}.js"')
    loader = replace_exactly(loader, '"./meridian.js"', f'"./meridian.{pair}.js"')
    files[f"meridian.{pair}.js"] = glue.encode()
    files[f"__wasm_split.{pair}.js"] = loader.encode()

    main_wasm = (bindgen / "meridian_bg.wasm").read_bytes()
    names = {"js": pair, "split": pair, "wasm": short_hash(main_wasm)}
    files[f"meridian.{names['wasm']}.wasm"] = main_wasm
    style = css.read_bytes()
    names["css"] = short_hash(style)
    files[f"meridian.{names['css']}.css"] = style
    manifest_json = json.dumps(manifest, indent=1, sort_keys=True).encode()
    names["manifest"] = short_hash(manifest_json)
    files[f"__wasm_split_manifest.{names['manifest']}.json"] = manifest_json

    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "hash.txt").unlink(missing_ok=True)
    shutil.rmtree(pkg / "snippets", ignore_errors=True)
    for name, content in files.items():
        (pkg / name).write_bytes(content)
    if (bindgen / "snippets").is_dir():
        shutil.copytree(bindgen / "snippets", pkg / "snippets")
    if compress:
        # Once, at the highest levels: the server sends these as they are.
        paths = [str(pkg / name) for name in files]
        subprocess.run(["brotli", "-q", "11", "-f", "-k", *paths], check=True)
        subprocess.run(["gzip", "-9", "-f", "-k", *paths], check=True)
    keep_recent_builds(pkg, names, files)
    (pkg / "hash.txt").write_text("".join(f"{kind}: {value}\n" for kind, value in names.items()))


if __name__ == "__main__":
    main()
