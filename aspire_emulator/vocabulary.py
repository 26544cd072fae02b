"""Word lists the generator draws names, places and equipment from. Made up, so no real customer appears."""

from __future__ import annotations

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley",
    "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda",
    "Luis", "Melissa", "Jose", "Deborah", "Ryan", "Stephanie", "Jacob", "Maria", "Gary", "Laura",
    "Nicholas", "Rebecca", "Eric", "Sharon", "Jonathan", "Cynthia", "Wei", "Priya", "Omar", "Aisha",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Kowalski", "Schmidt", "Olson", "Larson", "Novak", "Patel", "Chen", "Kim", "O'Brien", "Sullivan",
)

BUSINESS_WORDS = (
    "Prairie", "Summit", "Lakeside", "Heartland", "Red River", "Iron Horse", "Bluestem", "Cedar", "Granite",
    "Frontier", "Keystone", "Northstar", "Pioneer", "Riverbend", "Silver Creek", "Tri-County", "Valley",
    "Westfield", "Eagle", "Timberline", "Gulf Coast", "Great Lakes", "Magnolia", "Lone Star", "Badger",
    "Cornerstone", "Liberty", "Blue Ridge", "Sandhill", "Copper", "Harbor", "Oakwood", "Mesa", "Sunbelt",
)

BUSINESS_TRADES = (
    "Paving", "Excavating", "Logistics", "Trucking", "Dental Group", "Medical Imaging", "Farms", "Dairy",
    "Construction", "Landscaping", "Printing", "Machine Works", "Fabrication", "Freight", "Veterinary Clinic",
    "Bakery", "Brewing", "Hauling", "Concrete", "Roofing", "Plumbing", "Electric", "Aggregates", "Orthopedics",
    "Packaging", "Cold Storage", "Timber", "Grain", "Tool & Die", "Surgical Center", "Data Services",
)

BUSINESS_SUFFIXES = ("LLC", "Inc.", "Co.", "Corp.", "LLP", "Partners", "Group", "Holdings LLC", "& Sons")

VENDOR_NAMES = (
    "Equipment Sales", "Truck Center", "Machinery", "Ag Equipment", "Medical Systems", "Office Solutions",
    "Fleet Sales", "Tractor", "Imaging Systems", "Technology Partners", "Power Equipment", "Trailer Sales",
)

STREETS = (
    "Main St", "Oak Ave", "Industrial Pkwy", "Commerce Dr", "Elm St", "County Road 12", "Airport Rd",
    "Washington Blvd", "Maple Ave", "Highway 61", "Enterprise Way", "Mill St", "Park Ave", "Lincoln Hwy",
    "Depot St", "Frontage Rd", "Market St", "River Rd", "Cedar Ln", "Business Park Dr",
)

# (city, state, first three digits of the ZIP code, telephone area code)
PLACES = (
    ("Chicago", "IL", "606", "312"), ("Naperville", "IL", "605", "630"), ("Peoria", "IL", "616", "309"),
    ("Minneapolis", "MN", "554", "612"), ("Rochester", "MN", "559", "507"), ("Milwaukee", "WI", "532", "414"),
    ("Madison", "WI", "537", "608"), ("Des Moines", "IA", "503", "515"), ("Cedar Rapids", "IA", "524", "319"),
    ("Omaha", "NE", "681", "402"), ("Kansas City", "MO", "641", "816"), ("St. Louis", "MO", "631", "314"),
    ("Dallas", "TX", "752", "214"), ("Houston", "TX", "770", "713"), ("Austin", "TX", "787", "512"),
    ("Amarillo", "TX", "791", "806"), ("Oklahoma City", "OK", "731", "405"), ("Tulsa", "OK", "741", "918"),
    ("Denver", "CO", "802", "303"), ("Phoenix", "AZ", "850", "602"), ("Atlanta", "GA", "303", "404"),
    ("Nashville", "TN", "372", "615"), ("Charlotte", "NC", "282", "704"), ("Columbus", "OH", "432", "614"),
    ("Indianapolis", "IN", "462", "317"), ("Detroit", "MI", "482", "313"), ("Grand Rapids", "MI", "495", "616"),
    ("Louisville", "KY", "402", "502"), ("Memphis", "TN", "381", "901"), ("Fargo", "ND", "581", "701"),
    ("Sioux Falls", "SD", "571", "605"), ("Boise", "ID", "837", "208"), ("Salt Lake City", "UT", "841", "801"),
    ("Sacramento", "CA", "958", "916"), ("Fresno", "CA", "937", "559"), ("Portland", "OR", "972", "503"),
    ("Spokane", "WA", "992", "509"), ("Birmingham", "AL", "352", "205"), ("Jackson", "MS", "392", "601"),
    ("Little Rock", "AR", "722", "501"),
)

# States without a general sales tax on equipment rent.
UNTAXED_STATES = frozenset({"OR", "MT", "NH", "DE"})

# (category, description noun, vehicle?, quantity up to, ((make, VIN maker code, (models...)), ...))
EQUIPMENT = (
    ("construction", "Hydraulic Excavator", False, 1, (
        ("Caterpillar", "CAT", ("320", "336", "308 CR")), ("Komatsu", "KMT", ("PC210LC", "PC360LC")),
        ("John Deere", "JDC", ("210 P-Tier", "350 P-Tier")),
    )),
    ("construction", "Skid Steer Loader", False, 2, (
        ("Bobcat", "BOB", ("S650", "S770", "T66")), ("Case", "CSE", ("SV280B", "TV450B")),
    )),
    ("construction", "Wheel Loader", False, 1, (
        ("Caterpillar", "CAT", ("926", "950 GC")), ("Volvo CE", "VCE", ("L60H", "L90H")),
    )),
    ("transportation", "Class 8 Tractor", True, 1, (
        ("Freightliner", "1FU", ("Cascadia 126", "M2 106")), ("Peterbilt", "1XP", ("579", "389")),
        ("Kenworth", "1XK", ("T680", "W990")), ("Volvo Trucks", "4V4", ("VNL 860",)),
    )),
    ("transportation", "Dry Van Trailer", True, 3, (
        ("Great Dane", "1GR", ("Champion CL",)), ("Utility", "1UY", ("4000D-X",)), ("Wabash", "1JJ", ("DuraPlate",)),
    )),
    ("transportation", "Box Truck", True, 2, (
        ("Isuzu", "JAL", ("NPR-HD", "FTR")), ("Hino", "5PV", ("L6",)), ("Ford", "1FD", ("F-650",)),
    )),
    ("agriculture", "Row Crop Tractor", False, 1, (
        ("John Deere", "JDA", ("8R 410", "7R 330", "6R 145")), ("Case IH", "CIH", ("Magnum 340", "Puma 185")),
        ("New Holland", "NHL", ("T7.270",)),
    )),
    ("agriculture", "Combine Harvester", False, 1, (
        ("John Deere", "JDA", ("S780", "X9 1100")), ("Case IH", "CIH", ("Axial-Flow 8250",)),
    )),
    ("medical", "Ultrasound System", False, 2, (
        ("GE HealthCare", "GEH", ("LOGIQ E10", "Voluson E8")), ("Philips", "PHL", ("EPIQ Elite", "Affiniti 70")),
    )),
    ("medical", "CT Scanner", False, 1, (
        ("Siemens Healthineers", "SHS", ("SOMATOM go.Up",)), ("Canon Medical", "CMS", ("Aquilion ONE",)),
    )),
    ("medical", "Dental Chair Package", False, 6, (
        ("A-dec", "ADC", ("500", "300")), ("Planmeca", "PLM", ("Compact i5",)),
    )),
    ("manufacturing", "CNC Vertical Machining Center", False, 2, (
        ("Haas", "HAS", ("VF-2", "VF-4SS", "UMC-750")), ("Okuma", "OKM", ("Genos M560-V",)),
        ("Mazak", "MZK", ("VCN-530C",)),
    )),
    ("manufacturing", "Press Brake", False, 1, (
        ("Amada", "AMD", ("HG 1303",)), ("Trumpf", "TRF", ("TruBend 5130",)),
    )),
    ("office", "Multifunction Printer", False, 10, (
        ("Xerox", "XRX", ("AltaLink C8170", "VersaLink C7130")), ("Canon", "CNN", ("imageRUNNER ADVANCE DX C5870i",)),
        ("Ricoh", "RIC", ("IM C4510",)),
    )),
    ("technology", "Server", False, 8, (
        ("Dell", "DEL", ("PowerEdge R750", "PowerEdge R660")), ("HPE", "HPE", ("ProLiant DL380 Gen11",)),
    )),
    ("food service", "Commercial Combi Oven", False, 3, (
        ("Rational", "RAT", ("iCombi Pro 10-1/1",)), ("Hobart", "HOB", ("HCE10",)),
    )),
)

# Characters a VIN may use (no I, O or Q) and a model-year code for 2010-2030 per position 10 of the VIN.
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_YEAR_CODES = {year: code for year, code in zip(range(2010, 2031), "ABCDEFGHJKLMNPRSTVWXY", strict=True)}
