"""Every field of a failure record is explained in the README (issue 26, item 17:
`failed_as` and `file_as` were not), on a record written by a real failure."""
from __future__ import annotations

import json
import re

from hotfolder.spool import moves
from tests.harness import REPO
from tests.unit.test_spool import make_folder


def test_every_field_of_a_failure_record_is_in_the_readme(tmp_path):
    folder = make_folder(tmp_path)
    for name in ("a.jpg", "a.jpg"):  # the second fails as a_1.jpg: failed_as and file_as differ
        (folder.inbox / "sub").mkdir(exist_ok=True)
        (folder.inbox / "sub" / name).write_bytes(b"not an image")
        claimed = moves.claim(folder, folder.inbox / "sub" / name)
        where = moves.fail(folder, claimed.path, claimed.rel, error="The image could not be opened", step="open")
    record = json.loads((where.parent / (where.name + ".error.json")).read_text(encoding="utf-8"))
    assert where.name == "a_1.jpg" and bytes.fromhex(record["file_as"]).decode() == "sub/a.jpg"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `failed/` \|(.*)$", readme, re.M)
    assert row, "the README's table of folders has no failed/ row"
    explained = set(re.findall(r'`"?(\w+)"?`', row.group(1))) | set(re.findall(r'"(\w+)"', row.group(1)))
    missing = sorted(set(record) - explained)
    assert not missing, f"the README's failed/ row does not explain {missing}"
