"""Name pools and title vocabularies for the synthetic organization.

Fixed lists (not a faker library) so that the same seed gives the same company
on every machine and Python version, and so that the demo has no dependency.
"""

from __future__ import annotations

DOMAIN = "example.com"
ALIAS_DOMAIN = "example.co.uk"

FIRST_NAMES = (
    "Aaron", "Abigail", "Adrian", "Aisha", "Alan", "Alba", "Alex", "Alice", "Amir", "Ana",
    "Andrea", "Anika", "Ben", "Bianca", "Boris", "Brianna", "Caleb", "Carla", "Carlos", "Chloe",
    "Chris", "Clara", "Daniel", "Daria", "David", "Diego", "Elena", "Eli", "Emma", "Emre",
    "Erik", "Eva", "Farah", "Felix", "Fiona", "Gabriel", "Grace", "Hannah", "Hugo", "Ian",
    "Ines", "Isaac", "Ivy", "Jack", "Jana", "Jonas", "Julia", "Kai", "Karim", "Kate",
    "Kenji", "Laura", "Leo", "Lina", "Luca", "Lucy", "Maya", "Mei", "Mia", "Nadia",
    "Nathan", "Nina", "Noah", "Nora", "Omar", "Paula", "Pavel", "Quinn", "Rafael", "Rosa",
    "Ruth", "Sara", "Sean", "Simon", "Sofia", "Tariq", "Tess", "Theo", "Uma", "Victor",
    "Vera", "Wes", "Xin", "Yara", "Yusuf", "Zara", "Zoe", "Marta", "Tobias", "Ingrid",
)

LAST_NAMES = (
    "Adams", "Alvarez", "Andersen", "Bauer", "Becker", "Bishop", "Brooks", "Campbell", "Costa",
    "Cruz", "Dalton", "Diaz", "Dubois", "Edwards", "Ellison", "Evans", "Fischer", "Flores",
    "Foster", "Garcia", "Gomez", "Grant", "Gupta", "Hall", "Hansen", "Harris", "Hayes", "Ito",
    "Jensen", "Kaur", "Keller", "Khan", "Kim", "Klein", "Kowalski", "Lang", "Larsen", "Lopez",
    "Martin", "Meyer", "Mills", "Moreau", "Murphy", "Nakamura", "Novak", "Olsen", "Ortiz",
    "Park", "Patel", "Perez", "Petrov", "Price", "Quinn", "Reed", "Rossi", "Russo", "Sanders",
    "Santos", "Schmidt", "Shah", "Silva", "Singh", "Stone", "Suzuki", "Tanaka", "Torres",
    "Turner", "Vargas", "Vogel", "Wagner", "Walsh", "Watson", "Weber", "Wolf", "Wong", "Young",
    "Yilmaz", "Zhang", "Ziegler", "Nowak", "Ivanova", "Haddad", "Mensah", "Okafor", "Lindqvist",
)

DEPARTMENTS = (
    "Engineering", "Product", "Sales", "Marketing", "Support", "Operations", "Legal", "HR",
    "Finance",
)

# Share of the generic manager slots each department receives.
DEPARTMENT_WEIGHTS = {
    "Engineering": 30, "Product": 10, "Sales": 15, "Marketing": 8, "Support": 10,
    "Operations": 8, "Legal": 5, "HR": 7, "Finance": 7,
}

# Where most of a department sits; shapes meeting time zones and Date headers.
DEPARTMENT_ZONES = {
    "Sales": "America/New_York",
    "Support": "Europe/London",
}

IC_TITLES = {
    "Engineering": ("Software Engineer", "Senior Software Engineer", "Staff Engineer",
                    "Site Reliability Engineer"),
    # "Product Manager" manages nobody: a title that looks like a peer and is not one.
    "Product": ("Product Manager", "Senior Product Manager", "Product Designer"),
    "Sales": ("Account Executive", "Account Manager", "Sales Engineer"),
    "Marketing": ("Marketing Specialist", "Content Strategist", "Campaign Manager"),
    "Support": ("Support Engineer", "Senior Support Engineer"),
    "Operations": ("Operations Analyst", "Program Manager"),
    "Legal": ("Counsel", "Paralegal"),
    "HR": ("HR Business Partner", "Recruiter", "People Operations Specialist"),
    "Finance": ("Financial Analyst", "Accountant", "Controller"),
}


def manager_title(department: str, senior: bool) -> str:
    if department == "Engineering":
        return "Senior Engineering Manager" if senior else "Engineering Manager"
    return f"{'Senior Manager' if senior else 'Manager'}, {department}"


def director_title(department: str, senior: bool) -> str:
    return f"{'Senior Director' if senior else 'Director'}, {department}"


def vp_title(department: str) -> str:
    return f"VP, {department}"
