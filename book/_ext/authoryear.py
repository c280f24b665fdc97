"""Bibliography labels in the author-year style of the citations: "[Burda et al.,
2016]" rather than pybtex's alphanumeric "[BGS16]" (sphinxcontrib-bibtex's
``author_year`` reference style only changes how citations look in the text, not the
labels of the bibliography)."""

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


class AuthorYearLabels(BaseLabelStyle):
    """ "Bishop, 2006", "Kingma and Welling, 2014", "Burda et al., 2016"; a letter tells
    apart the works of the same authors and year."""

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label

    @staticmethod
    def _label(entry):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(person.last_names) for person in people]
        year = entry.fields.get("year", "n.d.")
        if not names:
            return f"{entry.key}, {year}"
        if len(names) == 1:
            return f"{names[0]}, {year}"
        if len(names) == 2:
            return f"{names[0]} and {names[1]}, {year}"
        return f"{names[0]} et al., {year}"


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
