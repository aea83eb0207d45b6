"""Name pools from many cultures, so the generated company exercises what real directories hold.

Accents, apostrophes, hyphens, particles, single-letter names and names in non-Latin scripts all
occur in real HiBob tenants; a sync that mangles any of them is caught here. An entry is either a
plain name or ``(name as written, ASCII spelling)`` where the e-mail local part cannot be derived by
stripping accents (CJK, Cyrillic, Greek...).
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

Name = str | tuple[str, str]

# culture -> (first names, surnames, relative weight)
CULTURES: dict[str, tuple[tuple[Name, ...], tuple[Name, ...], int]] = {
    "english": (
        ("James", "Olivia", "Amelia", "Jack", "Harry", "Isla", "Sophie", "Thomas", "Emily",
         "Oliver", "Chloe", "Daniel", "Grace", "Liam", "Ava", "Noah", "Mia", "Zoë", "Siobhán",
         "Seán", "Aoife", "Rhys", "Ffion", "Jo", "Al"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans",
         "O'Brien", "O'Connor", "McAllister", "Fitzgerald", "Baker-Jones", "Ng", "Li"),
        18,
    ),
    "spanish": (
        ("José", "María", "Lucía", "Álvaro", "Martín", "Sofía", "Javier", "Ana", "Íñigo",
         "Begoña", "Nuria", "Pilar", "Andrés", "Valentina", "Mateo"),
        ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Díaz",
         "García-López", "de la Fuente", "Muñoz", "Ibáñez", "Nuñez"),
        10,
    ),
    "portuguese": (
        ("João", "Ana", "Gonçalo", "Inês", "Luíza", "Thiago", "Beatriz", "Conceição", "Caio"),
        ("Silva", "Santos", "Oliveira", "Souza", "Conceição", "Gonçalves", "Araújo", "Magalhães"),
        6,
    ),
    "german": (
        ("Lukas", "Jürgen", "Anna", "Lena", "Maximilian", "Jörg", "Sophie", "Felix", "Hannah",
         "Günther", "Ute"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Groß", "Köhler", "von Bülow",
         "Schröder", "Hoffmann"),
        8,
    ),
    "french": (
        ("Léa", "Chloé", "Émile", "Hélène", "François", "Gaël", "Noémie", "Jean-Luc", "Anaïs",
         "Théo", "Maëlle"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Fournier", "d'Arcy",
         "Le Gall", "Rousseau"),
        7,
    ),
    "nordic": (
        ("Øyvind", "Åsa", "Björn", "Sigríður", "Lars", "Ingrid", "Mikael", "Astrid", "Jón"),
        ("Johansson", "Andersson", "Nilsen", "Sørensen", "Jónsdóttir", "Lindqvist", "Ødegaard"),
        4,
    ),
    "polish": (
        ("Łukasz", "Agnieszka", "Paweł", "Małgorzata", "Krzysztof", "Zofia", "Wojciech"),
        ("Kowalski", "Nowak", "Wiśniewska", "Wójcik", "Kamiński", "Lewandowska", "Zieliński"),
        4,
    ),
    "turkish": (
        ("Ayşe", "Mehmet", "Emre", "Zeynep", "Çağla", "Oğuz", "İrem"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk"),
        3,
    ),
    "russian": (
        (("Дмитрий", "Dmitry"), ("Анна", "Anna"), "Olga", "Sergei", ("Наталья", "Natalya"),
         "Ivan", "Yulia"),
        (("Иванов", "Ivanov"), "Petrova", "Smirnov", ("Кузнецова", "Kuznetsova"), "Popov"),
        3,
    ),
    "greek": (
        (("Γιώργος", "Giorgos"), "Eleni", "Nikos", "Dimitra"),
        (("Παπαδόπουλος", "Papadopoulos"), "Georgiou", "Nikolaidis"),
        2,
    ),
    "chinese": (
        (("伟", "Wei"), ("芳", "Fang"), "Xiaoming", "Jing", "Hao", "Yan", "Lei", "Mei", "Jun"),
        (("王", "Wang"), ("李", "Li"), ("张", "Zhang"), "Liu", "Chen", "Yang", "Huang", "Zhou"),
        8,
    ),
    "japanese": (
        (("さくら", "Sakura"), "Haruto", "Yui", "Ren", "Aoi", "Sota", "Hina"),
        (("佐藤", "Sato"), "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Itō"),
        4,
    ),
    "korean": (
        (("민준", "Minjun"), "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun"),
        (("김", "Kim"), "Lee", "Park", "Choi", "Jung"),
        3,
    ),
    "vietnamese": (
        ("Anh", "Linh", "Minh", "Thảo", "Đức", "Phương"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ"),
        3,
    ),
    "indian": (
        ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Deepika", "Arjun", "Sneha", "Karthik",
         "Lakshmi", "Venkatasubramanian"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Singh", "Nair", "Krishnamurthy", "Das"),
        10,
    ),
    "arabic": (
        ("Mohammed", "Fatima", "Omar", "Layla", "Youssef", "Aisha", "Khalid", "Nour", "Zainab"),
        ("Al-Sayed", "Haddad", "Khalil", "El-Amin", "Mansour", "Abdullah", "Nasser"),
        6,
    ),
    "hebrew": (
        ("Noa", "Yosef", "Tamar", "Eitan", "Shira", "Avi", "Maya"),
        ("Cohen", "Levi", "Mizrahi", "Peretz", "Ben-David", "Friedman"),
        4,
    ),
    "west_african": (
        ("Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Kwame", "Ama", "Tunde", "Folake", "Kofi"),
        ("Okafor", "Adeyemi", "Mensah", "Okonkwo", "Boateng", "Balogun", "Asante"),
        5,
    ),
    "east_african": (
        ("Wanjiru", "Baraka", "Amani", "Zawadi", "Juma"),
        ("Mwangi", "Otieno", "Kamau", "Njoroge", "Wambui"),
        2,
    ),
    "latin_american": (
        ("Camila", "Santiago", "Ximena", "Joaquín", "Daniela", "Sebastián"),
        ("Rodríguez", "Hernández", "Ramírez", "Flores", "Castillo", "Vargas"),
        5,
    ),
}

_SPECIAL = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "đ": "d", "Đ": "D",
                          "ı": "i", "æ": "ae", "Æ": "AE", "ð": "d", "þ": "th"})


def written(name: Name) -> str:
    return name[0] if isinstance(name, tuple) else name


@lru_cache(maxsize=4096)
def ascii_spelling(name: Name) -> str:
    """The name as an e-mail local part would spell it: ASCII letters and digits only."""
    latin = name[1] if isinstance(name, tuple) else name
    folded = unicodedata.normalize("NFKD", latin.translate(_SPECIAL))
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).lower()
