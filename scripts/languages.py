"""Write src/wikiloom/wiki/languages.json from a MediaWiki install's language files.

Each `languages/messages/Messages<Code>.php` names the language's fallbacks (`$fallback`)
and whether it is written right to left (`$rtl`). Run with Debian's MediaWiki installed
(scripts/install-system): `python scripts/languages.py [/usr/share/mediawiki]`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FALLBACK = re.compile(r"^\$fallback\s*=\s*'([^']*)'", re.MULTILINE)
RTL = re.compile(r"^\$rtl\s*=\s*true", re.MULTILINE)
VERSION = re.compile(r"define\( 'MW_VERSION', '([^']+)'")


def main(root: Path) -> None:
    """Read every language file under `root` and write the table beside the registry."""
    table: dict[str, dict[str, object]] = {}
    for path in sorted((root / "languages" / "messages").glob("Messages*.php")):
        code = path.stem.removeprefix("Messages").lower().replace("_", "-")
        text = path.read_text(encoding="utf-8")
        found = FALLBACK.search(text)
        fallbacks = [c.strip() for c in found.group(1).split(",") if c.strip()] if found else []
        if fallbacks or RTL.search(text):
            table[code] = {"fallback": fallbacks, "rtl": bool(RTL.search(text))}
    version = VERSION.search((root / "includes" / "Defines.php").read_text(encoding="utf-8"))
    out = Path(__file__).resolve().parents[1] / "src" / "wikiloom" / "wiki" / "languages.json"
    document = {"source": f"MediaWiki {version.group(1) if version else '?'}", "languages": table}
    out.write_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{out}: {len(table)} languages")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/mediawiki"))
