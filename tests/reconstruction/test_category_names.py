"""Spellings of free-form category names, shared by the size and interaction tables."""

from optim.size_priors import normalize_category
from reconstruction.category_names import spellings
from reconstruction.interaction_library import canonical_category


def test_spellings_go_from_the_literal_name_to_the_last_words_singular():
    assert spellings("Office_Chairs") == ["office chairs", "office chair", "chairs", "chair"]
    assert spellings("  Sports-Ball ") == ["sports ball", "ball"]
    forms = spellings("knives")
    assert forms[0] == "knives" and forms.index("knife") < forms.index("knive")
    assert spellings("berries")[1] == "berry"
    assert spellings("") == [] and spellings(" _ ") == []


def test_both_tables_read_a_name_the_same_way():
    for name, size_key, table_key in [
        ("Office_Chairs", "chair", "chair"),
        ("boxes", "box", "box"),
        ("dining-tables", "table", "table"),
        ("flux capacitor", None, None),
    ]:
        assert normalize_category(name) == size_key
        assert canonical_category(name) == table_key
