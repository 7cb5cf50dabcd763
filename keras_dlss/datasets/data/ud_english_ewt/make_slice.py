"""Rebuilds the UD English EWT slice shipped in this folder from the original release files.

    python make_slice.py PATH/TO/ud-english-ewt   # writes the two .conllu.xz files here

Kept: comment lines `# newdoc id`, `# sent_id` and `# text`; the columns ID,
FORM, UPOS, XPOS, HEAD and DEPREL; multi-word token lines (ID and FORM only).
Blanked to `_`: LEMMA, FEATS, DEPS and MISC. Dropped: `# newpar` comments and
empty nodes (`8.1`, which only the enhanced graph in DEPS refers to). The
train file is all of en_ewt-ud-dev.conllu; the test file holds every second
document (the 1st, 3rd, 5th, ...) of en_ewt-ud-test.conllu, so it covers all
five genres.
"""

import lzma
import os
import sys

KEEP_COMMENTS = ("newdoc id", "sent_id", "text")
KEEP_COLUMNS = (0, 1, 3, 4, 6, 7)  # ID FORM UPOS XPOS HEAD DEPREL
HERE = os.path.dirname(os.path.abspath(__file__))


def slim(lines, every_other_document=False):
    out, document, keep = [], -1, True
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("# newdoc"):
            document += 1
            keep = not every_other_document or document % 2 == 0
        if not keep:
            continue
        if line.startswith("#"):
            if line[1:].split("=")[0].strip() in KEEP_COMMENTS:
                out.append(line)
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            out.append(line)  # the blank line ending a sentence
        elif "." in fields[0]:
            continue
        elif "-" in fields[0]:
            out.append("\t".join(fields[:2] + ["_"] * 8))
        else:
            out.append("\t".join(f if i in KEEP_COLUMNS else "_" for i, f in enumerate(fields)))
    return "\n".join(out).strip("\n") + "\n\n"


def main(source, target=HERE):
    for name, half in (("en_ewt-ud-dev", False), ("en_ewt-ud-test", True)):
        with open(os.path.join(source, name + ".conllu"), encoding="utf-8") as f:
            text = slim(f, every_other_document=half)
        suffix = "-half" if half else ""
        with lzma.open(
            os.path.join(target, f"{name}{suffix}.conllu.xz"),
            "wt",
            encoding="utf-8",
            preset=9 | lzma.PRESET_EXTREME,
        ) as f:
            f.write(text)


if __name__ == "__main__":
    main(*sys.argv[1:])
