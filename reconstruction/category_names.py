"""Spellings of a free-form object category name, for looking it up in a table of categories.

A detector or a user names a category in many ways ("Dining_Table", "chairs", "office chair",
"knives"); each table (`optim.size_priors`, `reconstruction.interaction_library`) looks up the
forms `spellings` gives, in order, and maps its own synonyms.
"""

import re


def spellings(category: str) -> list[str]:
    """The forms to look a category name up under, most literal first, without repeats.

    Lower case with '_' and '-' read as spaces and runs of spaces collapsed; then the singular
    of a plural ending ("boxes", "knives", "skis", "berries"); then the same for the last word
    alone ("office chair" -> "chair").

    Args:
        category: a free-form category name.

    Returns:
        The forms, possibly empty (a blank name).
    """
    name = re.sub(r"[\s_\-]+", " ", category.lower()).strip()
    forms: list[str] = []
    for word in (name, name.rsplit(" ", 1)[-1]):
        for form in (word, *_singulars(word)):
            if form and form not in forms:
                forms.append(form)
    return forms


def _singulars(word: str) -> list[str]:
    """Singular forms a plural ending may stand for, most specific first."""
    forms = []
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("ves"):
        forms += [word[:-3] + "fe", word[:-3] + "f"]
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    return forms
