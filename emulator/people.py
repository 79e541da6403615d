"""Synthetic people and document numbers for generated reports.

Everything here is drawn from a `random.Random` the caller seeds, so the same seed always
gives the same person. Names carry accents and non-Latin-1 letters on purpose ("José",
"Zoë", "Łukasz") so that clients are exercised with real-world UTF-8; MRZ lines carry the
ASCII transliteration a real machine-readable zone would.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass

# country -> (female first names, male first names, last names, addresses, birth places)
_COUNTRIES: dict[str, tuple[list[str], list[str], list[str], list[str], list[str]]] = {
    "ESP": (
        ["María", "Lucía", "Begoña", "Inés", "Carmen"],
        ["José", "Íñigo", "Álvaro", "Jesús", "Martín"],
        ["García", "Núñez", "Fernández", "Peña", "Ibáñez", "Muñoz"],
        ["Calle de la Paz 12, Sevilla", "Avda de Madrid S-N, Madrid", "Plaza Mayor 3, León"],
        ["Madrid", "Sevilla", "A Coruña", "Cádiz"],
    ),
    "FRA": (
        ["Zoë", "Chloé", "Hélène", "Amélie", "Noémie"],
        ["François", "Loïc", "Jérôme", "Gaël", "Benoît"],
        ["Lefèvre", "Dupont", "Bérard", "Garçon", "Moreau"],
        ["Rue de l'Église 4, Lyon", "Boulevard Saint-Michel 21, Paris"],
        ["Lyon", "Paris", "Besançon", "Orléans"],
    ),
    "DEU": (
        ["Käthe", "Anneliese", "Jördis", "Ursula"],
        ["Jürgen", "Jörg", "Björn", "Günther"],
        ["Müller", "Schröder", "Weiß", "Groß", "Köhler"],
        ["Hauptstraße 5, München", "Königsallee 18, Düsseldorf"],
        ["München", "Köln", "Lübeck"],
    ),
    "POL": (
        ["Małgorzata", "Zofia", "Jadwiga", "Agnieszka"],
        ["Łukasz", "Paweł", "Bartłomiej", "Wojciech"],
        ["Nowak", "Wójcik", "Żak", "Król", "Mazur"],
        ["ul. Żółkiewskiego 7, Łódź", "ul. Świętokrzyska 30, Warszawa"],
        ["Łódź", "Kraków", "Gdańsk", "Poznań"],
    ),
    "PRT": (
        ["Inês", "Conceição", "Leonor", "Beatriz"],
        ["João", "Gonçalo", "Tomás", "Sebastião"],
        ["Gonçalves", "Simões", "Araújo", "Magalhães"],
        ["Rua da Alegria 9, Porto", "Avenida da Liberdade 120, Lisboa"],
        ["Porto", "Lisboa", "Évora", "Braga"],
    ),
}
COUNTRIES: tuple[str, ...] = tuple(_COUNTRIES)

# Letters that Unicode decomposition does not reduce to ASCII.
_TRANSLITERATION = str.maketrans({"Ł": "L", "ł": "l", "ß": "SS", "Ø": "O", "ø": "o", "Æ": "AE"})
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Person:
    """The holder of an onboarding: what the documents and the user data say."""

    first_name: str
    last_name: str
    gender: str
    birth_date: dt.date
    nationality: str
    address: str
    birth_place: str
    email: str
    national_id: str


def to_ascii(text: str) -> str:
    """Strip accents as a machine-readable zone does ("Łukasz Żak" -> "Lukasz Zak")."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def make_person(rng: random.Random) -> Person:
    """Draw one person: nationality, names, birth date, address, national id."""
    nationality = rng.choice(COUNTRIES)
    female, male, last_names, addresses, places = _COUNTRIES[nationality]
    gender = rng.choice("FM")
    first = rng.choice(female if gender == "F" else male)
    last = " ".join(rng.sample(last_names, 2 if nationality in {"ESP", "PRT"} else 1))
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 52))
    email = f"{to_ascii(first).lower()}.{to_ascii(last.split()[0]).lower()}@example.com"
    return Person(
        first_name=first.upper(),
        last_name=last.upper(),
        gender=gender,
        birth_date=birth,
        nationality=nationality,
        address=rng.choice(addresses).upper(),
        birth_place=rng.choice(places).upper(),
        email=email,
        national_id=national_id(rng, nationality),
    )


def national_id(rng: random.Random, country: str) -> str:
    """A national id number; Spanish ones carry a valid DNI control letter."""
    if country == "ESP":
        number = rng.randrange(10_000_000, 99_999_999)
        return f"{number}{_DNI_LETTERS[number % 23]}"
    return "".join(rng.choice(_LETTERS + "0123456789") for _ in range(9))


def serial_number(rng: random.Random, prefix: str) -> str:
    """A document serial such as a passport number: a prefix, letters, six digits."""
    letters = "".join(rng.choice(_LETTERS) for _ in range(3 - len(prefix)))
    return f"{prefix}{letters}{rng.randrange(0, 999_999):06d}"


def _check_digit(text: str) -> str:
    weights = (7, 3, 1)
    total = 0
    for index, ch in enumerate(text):
        if ch.isdigit():
            value = int(ch)
        elif ch.isalpha():
            value = ord(ch) - ord("A") + 10
        else:
            value = 0
        total += value * weights[index % 3]
    return str(total % 10)


def _mrz_name(person: Person, width: int) -> str:
    surname = to_ascii(person.last_name).replace(" ", "<").replace("-", "<")
    given = to_ascii(person.first_name).replace(" ", "<")
    return f"{surname}<<{given}".ljust(width, "<")[:width]


def _yymmdd(day: dt.date) -> str:
    return day.strftime("%y%m%d")


def mrz_td1(person: Person, country: str, number: str, expiry: dt.date) -> str:
    """The three 30-character lines of an identity card's machine-readable zone."""
    doc = number[:9].ljust(9, "<")
    line1 = f"ID{country}{doc}{_check_digit(doc)}{person.national_id[:15]}".ljust(30, "<")[:30]
    birth, exp = _yymmdd(person.birth_date), _yymmdd(expiry)
    line2 = f"{birth}{_check_digit(birth)}{person.gender}{exp}{_check_digit(exp)}{country}"
    line2 = line2.ljust(29, "<")
    line2 += _check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    return "\n".join([line1, line2, _mrz_name(person, 30)])


def mrz_td3(person: Person, country: str, number: str, expiry: dt.date) -> str:
    """The two 44-character lines of a passport's machine-readable zone."""
    doc = number[:9].ljust(9, "<")
    line1 = f"P<{country}{_mrz_name(person, 39)}"
    birth, exp = _yymmdd(person.birth_date), _yymmdd(expiry)
    personal = person.national_id[:14].ljust(14, "<")
    body = (
        f"{doc}{_check_digit(doc)}{person.nationality}{birth}{_check_digit(birth)}"
        f"{person.gender}{exp}{_check_digit(exp)}{personal}{_check_digit(personal)}"
    )
    composite = body[0:10] + body[13:20] + body[21:43]
    return f"{line1}\n{body}{_check_digit(composite)}"
