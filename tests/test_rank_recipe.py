"""Recipes: parsing, validation errors naming the field, canonical form and hash."""

from __future__ import annotations

import hashlib

import pytest

from pnyx.errors import UserError
from pnyx.rank.builtins import BUILTINS, DEFAULT, FOR_YOU, builtin
from pnyx.rank.recipe import HASH_DOMAIN, RecipeError, parse


def test_builtins_parse_and_the_default_is_time_order() -> None:
    assert DEFAULT == "following"
    assert set(BUILTINS) == {"following", "for-you"}
    assert builtin("following").terms == {"time": {"weight": 1.0}}
    fy = builtin("for-you")
    assert fy.terms["recency"] == {"weight": 2.0, "half_life_hours": 6.0}
    assert fy.modifiers == {
        "reply": 0.75,
        "out_of_network": 0.75,
        "diversity_floor": 0.25,
        "diversity_decay": 0.5,
    }


def test_hash_is_blake2b_256_of_the_canonical_form() -> None:
    r = builtin("for-you")
    expect = hashlib.blake2b(HASH_DOMAIN + r.canonical(), digest_size=32).hexdigest()
    assert r.hash == expect and len(r.hash) == 64
    assert builtin("following").hash != r.hash


def test_layout_order_comments_and_int_floats_do_not_change_the_hash() -> None:
    a = parse('name = "x"\n[terms.trust]\nweight = 2\n[terms.recency]\nweight = 1.0\n')
    b = parse(
        "# the same recipe, written differently\n"
        'authors = "any"\ndescription = ""\nversion = 1\nname = "x"\n'
        "[terms.recency]\nhalf_life_hours = 6  # the default, spelled out\nweight = 1\n"
        "[terms.trust]\nweight = 2.0\n[modifiers]\nreply = 1\n"
    )
    assert a.hash == b.hash and a.canonical() == b.canonical()
    assert parse(a.to_toml()) == a
    assert parse('name = "x"\n[terms.trust]\nweight = -0.0\n').terms["trust"]["weight"] == 0.0
    assert parse('name = "x"\n[terms.trust]\nweight = 2.5\n').hash != a.hash


def test_round_trip_of_for_you() -> None:
    r = parse(FOR_YOU)
    assert parse(r.to_toml()) == r and parse(r.to_toml()).hash == r.hash


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "recipe: not valid TOML"),
        ("[terms.trust]\nweight = 1\n", "recipe: name must be"),
        ('name = "Bad Name"\n[terms.trust]\nweight = 1\n', "recipe: name must be"),
        ('name = "x"\n', "recipe: terms must be a table"),
        ('name = "x"\n[terms.paid]\nweight = 4\n', "recipe: terms.paid is not a known term"),
        ('name = "x"\n[terms.trust]\nfactor = 1\n', "recipe: terms.trust.weight is missing"),
        ('name = "x"\n[terms.trust]\nweight = "high"\n', "recipe: terms.trust.weight must be"),
        ('name = "x"\n[terms.trust]\nweight = true\n', "recipe: terms.trust.weight must be"),
        ('name = "x"\n[terms.trust]\nweight = nan\n', "recipe: terms.trust.weight must be"),
        ('name = "x"\n[terms.trust]\nweight = 1e9\n', "recipe: terms.trust.weight must be"),
        (
            'name = "x"\n[terms.recency]\nweight = 1\nhalf_life_hours = 0\n',
            "recipe: terms.recency.half_life_hours must be a number > 0",
        ),
        (
            'name = "x"\n[terms.recency]\nweight = 1\nspeed = 2\n',
            "recipe: terms.recency.speed is not a parameter of recency",
        ),
        (
            'name = "x"\n[terms.trust]\nweight = 1\n[modifiers]\nreply = 1.5\n',
            "recipe: modifiers.reply must be a number > 0 and <= 1",
        ),
        (
            'name = "x"\n[terms.trust]\nweight = 1\n[modifiers]\nverified = 4\n',
            "recipe: modifiers.verified is not a known modifier",
        ),
        ('name = "x"\nauthors = "paid"\n[terms.trust]\nweight = 1\n', "recipe: authors must be"),
        ('name = "x"\nversion = 2\n[terms.trust]\nweight = 1\n', "recipe: version must be"),
        ('name = "x"\nboost = 2\n[terms.trust]\nweight = 1\n', "recipe: boost is not a recipe"),
        ('name = "x"\n' + "#" * 20_000 + "\n", "recipe: file is larger than"),
    ],
)
def test_validation_errors_are_user_errors_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(RecipeError) as info:
        parse(text)
    assert isinstance(info.value, UserError)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_builtin_names_the_choices() -> None:
    with pytest.raises(RecipeError, match="built in: following, for-you"):
        builtin("trending")


def test_not_utf8_is_a_clear_error() -> None:
    with pytest.raises(RecipeError, match="not UTF-8"):
        parse(b'name = "\xff"\n')


def test_trust_and_rank_are_sans_io() -> None:
    """Importing every module of pnyx.trust and pnyx.rank loads no trio, libp2p or sqlite3."""
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, pnyx.trust, pnyx.rank\n"
        "for pkg in (pnyx.trust, pnyx.rank):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "print(sorted(m for m in ('trio', 'libp2p', 'sqlite3') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert done.stdout.decode().strip() == "[]"
