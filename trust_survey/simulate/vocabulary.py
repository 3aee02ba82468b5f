"""Words the simulator draws on: departments, job titles and how people really type them.

Everything here is data. Each :class:`Role` is one kind of post with the STP stream it truly belongs
to (``none`` for the posts trusts list although they are not clinical bioinformatics), the bands it is
usually paid at and several spellings seen in staff records. :class:`DeptKind` says which roles a kind
of department employs. The fill module adds abbreviations, band suffixes and typos on top.

Universities and public bodies are real names used as facts; company names are invented.
"""
from __future__ import annotations

from dataclasses import dataclass

GENOMICS = "genomics"
HEALTH_INFORMATICS = "health_informatics"
PHYSICAL_SCIENCES = "physical_sciences"
NOT_RELEVANT = "none"
STREAMS = (GENOMICS, HEALTH_INFORMATICS, PHYSICAL_SCIENCES)

#: Choice codes of the ``streams`` list for each stream.
STREAM_CODES = {GENOMICS: "gen", HEALTH_INFORMATICS: "hi", PHYSICAL_SCIENCES: "ps"}

#: The seven Genomic Laboratory Hubs, by the ODS code of their host trust.
GLH_HOSTS = {
    "RQ3": "Central and South Genomic Laboratory Hub",
    "RGT": "East Genomic Laboratory Hub",
    "R0A": "North West Genomic Laboratory Hub",
    "RP4": "North Thames Genomic Laboratory Hub",
    "RJ1": "South East Genomic Laboratory Hub",
    "RVJ": "South West Genomic Laboratory Hub",
    "RTD": "North East and Yorkshire Genomic Laboratory Hub",
}


@dataclass(frozen=True)
class Role:
    key: str
    stream: str
    bands: tuple[str, ...]            # afc_bands choice codes
    titles: tuple[str, ...]
    registration: tuple[tuple[str, float], ...]  # registration choice code, weight
    headcount: tuple[int, int] = (1, 3)
    qualified: bool = False           # a qualified clinical bioinformatician (counts in kf_in_post)
    supervises: bool = False          # may supervise an STP trainee
    trainee: bool = False


SCIENTIST_REG = (("hcpc", 6), ("both", 2), ("ahcs", 1))
PRACTITIONER_REG = (("none", 4), ("towards", 3), ("ahcs", 2), ("hcpc", 1))
TRAINEE_REG = (("towards", 1),)
UNREGISTERED = (("none", 1),)

ROLES: tuple[Role, ...] = (
    # --- genomics -----------------------------------------------------------------------------------
    Role("clinical_bioinformatician", GENOMICS, ("b7", "b8a"), (
        "Clinical Scientist (Bioinformatics)", "Clinical Bioinformatician",
        "Clinical Scientist - Bioinformatics",
        "Clinical Scientist, Genomic Bioinformatics", "Clinical Bioinformatics Scientist",
        "Clinical Scientist Bioinformatics", "Clinical Scientist (Genomic Bioinformatics)",
        "HCPC Clinical Scientist - Bioinformatics",
    ), SCIENTIST_REG, (1, 5), qualified=True, supervises=True),
    Role("lead_bioinformatician", GENOMICS, ("b8a", "b8b", "b8c"), (
        "Principal Clinical Bioinformatician", "Lead Clinical Bioinformatician",
        "Head of Clinical Bioinformatics",
        "Consultant Clinical Scientist (Bioinformatics)", "Bioinformatics Service Lead",
        "Principal Clinical Scientist - Bioinformatics",
    ), SCIENTIST_REG, (1, 2), qualified=True, supervises=True),
    Role("bioinformatician", GENOMICS, ("b6", "b7"), (
        "Bioinformatician", "Bioinformatician (NGS)", "NGS Bioinformatician", "Genomics Bioinformatician",
        "Bioinformatics Analyst", "Bioinformatician - Rare Disease", "Bio-informatician",
        "Cancer Genomics Bioinformatician", "Bioinformatics Scientist",
    ), PRACTITIONER_REG, (1, 6)),
    Role("bioinformatics_engineer", GENOMICS, ("b6", "b7", "b8a"), (
        "Bioinformatics Software Engineer", "Genomics Pipeline Developer", "Genomic Data Engineer",
        "Bioinformatics Pipeline Engineer", "Software Developer (Genomics)",
        "Research Software Engineer - Genomics",
    ), PRACTITIONER_REG, (1, 3)),
    Role("stp_trainee_genomics", GENOMICS, ("trainee",), (
        "Trainee Clinical Scientist (STP) Genomics", "STP Trainee - Clinical Bioinformatics (Genomics)",
        "Trainee Clinical Bioinformatician", "Clinical Scientist Trainee - Bioinformatics",
        "STP Clinical Bioinformatics Trainee (Genomics)",
    ), TRAINEE_REG, (1, 3), trainee=True),
    Role("genomic_lab_scientist", NOT_RELEVANT, ("b5", "b6", "b7"), (
        "Genetic Technologist", "Clinical Scientist (Genomics)", "Healthcare Science Practitioner - Genomics",
        "Laboratory Scientist, Molecular Genetics", "Cytogeneticist", "Genomic Variant Scientist",
    ), PRACTITIONER_REG, (2, 12)),
    Role("genomics_associate", NOT_RELEVANT, ("b3", "b4"), (
        "Genomics Associate", "Laboratory Assistant (Genetics)", "Genetics Technician", "MLA - Molecular Lab",
    ), UNREGISTERED, (2, 10)),
    # --- physical sciences ----------------------------------------------------------------------------
    Role("scientific_computing_scientist", PHYSICAL_SCIENCES, ("b7", "b8a", "b8b"), (
        "Clinical Scientist (Scientific Computing)", "Clinical Scientist - Medical Physics Computing",
        "Clinical Scientist, Clinical Computing", "Principal Clinical Scientist - Scientific Computing",
        "Clinical Scientist (Sci Computing)", "Clinical Scientist - Physics Informatics",
    ), SCIENTIST_REG, (1, 3), qualified=True, supervises=True),
    Role("physics_software_engineer", PHYSICAL_SCIENCES, ("b6", "b7", "b8a"), (
        "Medical Physics Software Engineer", "Senior Medical Physics Software Engineer",
        "Software Engineer (Medical Physics)", "Clinical Software Engineer", "Scientific Software Developer",
        "Research Software Engineer - Radiotherapy", "Clinical Scientific Software Developer",
    ), PRACTITIONER_REG, (1, 4)),
    Role("clinical_computing_scientist", PHYSICAL_SCIENCES, ("b6", "b7"), (
        "Clinical Computing Scientist", "Clinical Technologist - Computing",
        "Healthcare Scientist (Clinical Computing)",
        "Clinical Computing Engineer", "Scientific Computing Technologist",
    ), PRACTITIONER_REG, (1, 3)),
    Role("stp_trainee_physical", PHYSICAL_SCIENCES, ("trainee",), (
        "Trainee Clinical Scientist (STP) Physical Sciences",
        "STP Trainee - Clinical Bioinformatics (Physical Sciences)",
        "Trainee Clinical Scientist - Scientific Computing", "STP Trainee (Physical Sciences Bioinformatics)",
    ), TRAINEE_REG, (1, 2), trainee=True),
    Role("medical_physicist", NOT_RELEVANT, ("b7", "b8a", "b8b"), (
        "Clinical Scientist (Radiotherapy Physics)", "Radiotherapy Physicist", "Medical Physicist",
        "Clinical Scientist - Nuclear Medicine", "Clinical Scientist (Imaging Physics)", "MRI Physicist",
        "Radiation Protection Adviser",
    ), SCIENTIST_REG, (1, 8)),
    Role("clinical_engineer", NOT_RELEVANT, ("b4", "b5", "b6", "b7"), (
        "Clinical Engineer", "Medical Equipment Technician", "EBME Technician", "Rehabilitation Engineer",
        "Clinical Technologist (Medical Engineering)", "Biomedical Engineer", "Renal Technician",
    ), PRACTITIONER_REG, (2, 15)),
    # --- health informatics ---------------------------------------------------------------------------
    Role("clinical_informatics_scientist", HEALTH_INFORMATICS, ("b7", "b8a", "b8b"), (
        "Clinical Informatics Scientist", "Clinical Scientist (Health Informatics)",
        "Health Informatics Scientist",
        "Clinical Scientist - Health Informatics", "Healthcare Scientist, Clinical Informatics",
        "Clinical Bioinformatician (Health Informatics)",
    ), SCIENTIST_REG, (1, 3), qualified=True, supervises=True),
    Role("stp_trainee_informatics", HEALTH_INFORMATICS, ("trainee",), (
        "Trainee Clinical Scientist (STP) Health Informatics", "STP Trainee (Health Informatics)",
        "Trainee Clinical Bioinformatician - Health Informatics", "STP Health Informatics Trainee",
    ), TRAINEE_REG, (1, 2), trainee=True),
    Role("clinical_safety_officer", HEALTH_INFORMATICS, ("b7", "b8a"), (
        "Clinical Safety Officer", "Clinical Safety Officer (DCB0129/0160)",
        "Digital Clinical Safety Officer",
        "Clinical Safety Lead - Digital",
    ), (("none", 3), ("hcpc", 1)), (1, 2)),
    Role("epr_analyst", HEALTH_INFORMATICS, ("b5", "b6", "b7"), (
        "EPR Analyst", "EPR Systems Analyst", "Electronic Patient Record Analyst", "EPR Build Analyst",
        "EPR Configuration Analyst", "Clinical Systems Analyst",
    ), UNREGISTERED, (1, 8)),
    Role("data_scientist", HEALTH_INFORMATICS, ("b6", "b7", "b8a"), (
        "Data Scientist", "Healthcare Data Scientist", "Clinical Data Scientist",
        "Data Scientist (Population Health)",
        "Machine Learning Engineer", "Senior Data Scientist",
    ), UNREGISTERED, (1, 4)),
    Role("devops_engineer", HEALTH_INFORMATICS, ("b6", "b7", "b8a"), (
        "Dev Ops Engineer", "DevOps Engineer", "Platform Engineer", "Cloud Infrastructure Engineer",
        "Site Reliability Engineer",
    ), UNREGISTERED, (1, 3)),
    Role("software_developer", HEALTH_INFORMATICS, ("b5", "b6", "b7", "b8a"), (
        "Software Developer", "Clinical Systems Developer", ".NET Developer",
        "Full Stack Developer (Clinical Systems)",
        "Applications Developer", "Integration Engineer (HL7/FHIR)", "Interoperability Developer",
    ), UNREGISTERED, (1, 5)),
    # --- listed by trusts, but not clinical bioinformatics ---------------------------------------------
    Role("service_desk", NOT_RELEVANT, ("b3", "b4", "b5"), (
        "IT Service Desk Analyst", "Service Desk Technician", "IT Support Officer",
        "1st Line Support Analyst",
        "Desktop Support Engineer", "IT Service Desk Team Leader",
    ), UNREGISTERED, (3, 25)),
    Role("information_analyst", NOT_RELEVANT, ("b5", "b6", "b7"), (
        "Information Analyst", "Senior Information Analyst", "Performance Analyst", "BI Developer",
        "Business Intelligence Analyst", "Data Quality Officer", "Information Officer",
    ), UNREGISTERED, (2, 12)),
    Role("clinical_coder", NOT_RELEVANT, ("b3", "b4", "b5"), (
        "Clinical Coder", "Senior Clinical Coder", "Clinical Coding Auditor", "Trainee Clinical Coder",
        "Clinical Coding Team Leader",
    ), UNREGISTERED, (3, 15)),
    Role("radiographer", NOT_RELEVANT, ("b5", "b6", "b7"), (
        "Diagnostic Radiographer", "Therapeutic Radiographer", "Senior Radiographer (CT)", "Radiographer",
        "Advanced Practitioner Radiographer",
    ), (("hcpc", 1),), (3, 30)),
    Role("pacs", NOT_RELEVANT, ("b6", "b7"), (
        "PACS Manager", "PACS Administrator", "RIS/PACS Systems Officer", "Imaging Systems Manager",
    ), UNREGISTERED, (1, 3)),
    Role("estates_engineer", NOT_RELEVANT, ("b4", "b5", "b6"), (
        "Estates Engineer", "Electrical Engineer (Estates)", "Building Services Engineer",
        "Maintenance Technician",
        "Estates Officer",
    ), UNREGISTERED, (2, 12)),
    Role("infrastructure", NOT_RELEVANT, ("b5", "b6", "b7"), (
        "Network Engineer", "Infrastructure Engineer", "Cyber Security Analyst", "Telecoms Officer",
        "Server Engineer",
    ), UNREGISTERED, (1, 8)),
    Role("digital_project", NOT_RELEVANT, ("b6", "b7", "b8a"), (
        "Project Manager (Digital)", "Business Analyst", "Digital Trainer", "Programme Manager - EPR",
        "Change Manager, Digital Services",
    ), UNREGISTERED, (1, 6)),
    Role("lab_scientist", NOT_RELEVANT, ("b5", "b6", "b7"), (
        "Biomedical Scientist", "Senior Biomedical Scientist",
        "Specialist Biomedical Scientist - Haematology",
        "Laboratory Manager",
    ), (("hcpc", 1),), (3, 20)),
    Role("research_staff", NOT_RELEVANT, ("b5", "b6", "b7"), (
        "Research Nurse", "Clinical Trials Coordinator", "Research Data Manager", "Research Facilitator",
    ), UNREGISTERED, (1, 8)),
    Role("cio", NOT_RELEVANT, ("b8c", "b8d", "b9", "medical"), (
        "Chief Clinical Information Officer", "Chief Nursing Information Officer", "Head of Digital",
        "Associate Director of Informatics",
    ), UNREGISTERED, (1, 1)),
)
ROLE = {r.key: r for r in ROLES}
TRAINEE_ROLE = {GENOMICS: "stp_trainee_genomics", HEALTH_INFORMATICS: "stp_trainee_informatics",
                PHYSICAL_SCIENCES: "stp_trainee_physical"}
#: The qualified role that supervises a stream's trainees: a department hosting trainees has one.
SUPERVISOR_ROLE = {GENOMICS: "clinical_bioinformatician",
                   HEALTH_INFORMATICS: "clinical_informatics_scientist",
                   PHYSICAL_SCIENCES: "scientific_computing_scientist"}


@dataclass(frozen=True)
class DeptKind:
    key: str
    dept_type: str                             # dept_types choice code
    names: tuple[str, ...]
    stream: str | None                         # the STP stream it would host, if any
    roles: tuple[tuple[str, float], ...]       # role key, chance the department has a row for it


DEPT_KINDS: tuple[DeptKind, ...] = (
    DeptKind("genomics_lab", "genomics", (
        "Regional Genetics Laboratory", "Molecular Genetics", "Genomic Medicine Service", "Clinical Genomics",
        "Molecular Diagnostics Laboratory",
    ), GENOMICS, (("clinical_bioinformatician", 0.7), ("bioinformatician", 0.8), ("lead_bioinformatician",
                                                                                  0.4),
                  ("genomic_lab_scientist", 0.9), ("genomics_associate", 0.6), ("bioinformatics_engineer",
                                                                                0.3))),
    DeptKind("bioinformatics_unit", "bioinf", (
        "Clinical Bioinformatics", "Bioinformatics Unit", "Genomics Bioinformatics Team",
        "Bioinformatics Service",
    ), GENOMICS, (("clinical_bioinformatician", 0.95), ("bioinformatician", 0.9), ("lead_bioinformatician",
                                                                                   0.7),
                  ("bioinformatics_engineer", 0.6))),
    DeptKind("medical_physics", "medphys", (
        "Medical Physics", "Medical Physics and Clinical Engineering", "Department of Medical Physics",
        "Medical Physics & Bioengineering", "Radiotherapy Physics", "Imaging Physics",
        "Nuclear Medicine Physics",
    ), PHYSICAL_SCIENCES, (("medical_physicist", 0.95), ("scientific_computing_scientist", 0.35),
                           ("physics_software_engineer", 0.4), ("clinical_computing_scientist", 0.25),
                           ("clinical_engineer", 0.3))),
    DeptKind("clinical_engineering", "clineng", (
        "Clinical Engineering", "Medical Engineering Services", "EBME", "Rehabilitation Engineering",
        "Clinical Technology",
    ), PHYSICAL_SCIENCES, (("clinical_engineer", 0.95), ("clinical_computing_scientist", 0.2),
                           ("physics_software_engineer", 0.1))),
    DeptKind("scientific_computing", "scicomp", (
        "Scientific Computing", "Clinical Scientific Computing", "Physics Software Development Group",
        "Scientific Computing and Data",
    ), PHYSICAL_SCIENCES, (("scientific_computing_scientist", 0.9), ("physics_software_engineer", 0.8),
                           ("clinical_computing_scientist", 0.4))),
    DeptKind("clinical_computing", "clincomp", (
        "Clinical Computing", "Clinical Systems Development", "Clinical Computing Services",
    ), HEALTH_INFORMATICS, (("clinical_informatics_scientist", 0.5), ("software_developer", 0.8),
                            ("clinical_computing_scientist", 0.5), ("devops_engineer", 0.3))),
    DeptKind("informatics", "informatics", (
        "Health Informatics", "Clinical Informatics", "Business Intelligence", "Information Services",
        "Informatics and Analytics", "Data and Analytics",
    ), HEALTH_INFORMATICS, (("information_analyst", 0.95), ("clinical_informatics_scientist", 0.2),
                            ("data_scientist", 0.4), ("clinical_coder", 0.5), ("clinical_safety_officer",
                                                                               0.3),
                            ("epr_analyst", 0.3), ("cio", 0.2))),
    DeptKind("digital", "digital", (
        "Digital Services", "IT Services", "Digital Transformation", "ICT", "Digital and Data", "IM&T",
    ), HEALTH_INFORMATICS, (("service_desk", 0.9), ("infrastructure", 0.7), ("epr_analyst", 0.6),
                            ("software_developer", 0.5), ("devops_engineer",
                                                          0.3), ("clinical_safety_officer", 0.3),
                            ("digital_project", 0.6), ("cio", 0.3))),
    DeptKind("research", "research", (
        "Research and Development", "R&D Department", "Clinical Research Facility", "Research & Innovation",
    ), None, (("research_staff", 0.95), ("data_scientist", 0.3))),
    DeptKind("pathology", "pathology", (
        "Pathology", "Blood Sciences", "Cellular Pathology", "Haematology Laboratory",
    ), None, (("lab_scientist", 0.95), ("software_developer", 0.1))),
    DeptKind("radiology", "other", (
        "Radiology", "Diagnostic Imaging", "Imaging Department",
    ), None, (("radiographer", 0.95), ("pacs", 0.7))),
    DeptKind("estates", "other", (
        "Estates and Facilities", "Estates & Facilities Management",
    ), None, (("estates_engineer", 1.0),)),
)
DEPT_KIND = {d.key: d for d in DEPT_KINDS}

#: Organisation kinds (org_types choice codes) and the chance each department kind is present.
DEPARTMENT_MIX: dict[str, dict[str, float]] = {
    "glh": {"genomics_lab": 1.0, "bioinformatics_unit": 0.7, "medical_physics": 0.95,
            "clinical_engineering": 0.7,
            "scientific_computing": 0.45, "clinical_computing": 0.15, "informatics": 0.9, "digital": 0.9,
            "research": 0.5, "pathology": 0.3, "radiology": 0.15, "estates": 0.05},
    "acute": {"genomics_lab": 0.08, "bioinformatics_unit": 0.04, "medical_physics": 0.8,
              "clinical_engineering": 0.6,
              "scientific_computing": 0.2, "clinical_computing": 0.12, "informatics": 0.85, "digital": 0.9,
              "research": 0.3, "pathology": 0.3, "radiology": 0.2, "estates": 0.08},
    "specialist": {"genomics_lab": 0.15, "bioinformatics_unit": 0.1, "medical_physics": 0.5,
                   "clinical_engineering": 0.3, "scientific_computing": 0.2, "clinical_computing": 0.1,
                   "informatics": 0.8, "digital": 0.9, "research": 0.5, "pathology": 0.2},
    "mental": {"informatics": 0.9, "digital": 0.9, "research": 0.3, "clinical_computing": 0.05},
    "community": {"informatics": 0.9, "digital": 0.85, "clinical_engineering": 0.1, "research": 0.1},
    "ambulance": {"digital": 0.95, "informatics": 0.8},
    "icb": {"informatics": 0.95, "digital": 0.7},
    "other": {"informatics": 0.8, "digital": 0.8, "research": 0.3},
}

#: Department names an ICB uses instead of a trust's.
ICB_DEPT_NAMES = {
    "informatics": ("Population Health Intelligence", "Business Intelligence and Analytics", "Data Services"),
    "digital": ("Digital Transformation", "Digital and Data Programme", "Digital Strategy"),
}

#: Words in an organisation's name that tell its type (checked in order, each from the start of a word).
ORG_TYPE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ambulance", ("ambulance",)),
    ("mental", ("mental health", "partnership", "psychiatr", "tavistock", "maudsley", "esk and wear",
                "oxleas", "mersey care", "pennine care")),
    ("community", ("community",)),
    ("specialist", ("children", "women", "orthopaedic", "cancer", "heart", "chest", "christie",
                    "clatterbridge", "marsden", "moorfields", "papworth", "eye hospital", "neurolog",
                    "great ormond", "alder hey", "walton centre", "brompton")),
)

#: Words people shorten, and what they shorten them to.
ABBREVIATIONS = (
    ("Senior", ("Snr", "Sr", "Snr.")), ("Principal", ("Princ.", "Prin")), ("Engineer", ("Eng", "Eng.",
                                                                                        "Engr")),
    ("Scientist", ("Sci",)), ("Clinical", ("Clin", "Clin.")), ("Department", ("Dept",)),
    ("Development", ("Dev",)), ("Technician", ("Tech",)), ("Analyst", ("Anlst",)), (" and ", (" & ",)),
    ("Information", ("Info",)), ("Manager", ("Mgr",)), ("Medical Physics", ("Med Phys", "MP")),
)

#: Seniority words added to a title when the band is high enough (band codes that may carry them).
SENIORITY = (
    ("Senior", ("b7", "b8a")), ("Lead", ("b8a", "b8b")), ("Principal", ("b8a", "b8b", "b8c")),
)
SENIORITY_WORDS = ("senior", "snr", "lead", "principal", "head", "consultant", "chief", "trainee", "stp",
                   "associate", "assistant", "director")

#: How a band is written inside a job title: band code -> spellings.
BAND_IN_TITLE = {
    "b3": ("B3", "Band 3"), "b4": ("B4", "Band 4"), "b5": ("B5", "Band 5", "band 5"), "b6": ("B6", "Band 6",
                                                                                             "band 6"),
    "b7": ("B7", "Band 7", "band 7", "(B7)"), "b8a": ("8a", "B8a", "Band 8A", "(8a)"), "b8b": ("8b",
                                                                                               "Band 8B"),
    "b8c": ("8c", "Band 8C"), "b8d": ("8d",), "b9": ("Band 9",),
}

#: Band labels typed the way people type them in the band column (cleanable): band code -> spellings.
BAND_SPELLINGS = {
    "b3": ("band 3", "B3", "AfC Band 3"), "b4": ("band 4", "B4", "AfC Band 4"),
    "b5": ("band 5", "B5", "AfC Band 5", "Band5"), "b6": ("band 6", "B6", "AfC Band 6", "Band6"),
    "b7": ("band 7", "B7", "AfC Band 7", "BAND 7"), "b8a": ("band 8A", "8a", "B8a", "AfC Band 8a", "Band 8A"),
    "b8b": ("band 8B", "8b", "B8b"), "b8c": ("band 8C", "8c"), "b8d": ("band 8D", "8d"), "b9": ("band 9",
                                                                                                "B9"),
}

#: Band labels that are not in the list and cannot be cleaned.
BAD_BANDS = ("Band 10", "Band 8e", "Band 1", "Grade 7", "Consultant")

#: Text typed into number cells that cannot be read as a number.
NOT_NUMBERS = ("tbc", "see notes", "approx 3", "unknown", "4 or 5", "a few", "?")

#: Ways of writing "nothing here".
NOT_APPLICABLE = ("N/A", "n/a", "NA", "N/a")

FIRST_NAMES = (
    "Aisha", "Alex", "Amara", "Andrew", "Anita", "Ben", "Bethan", "Chloe", "Chris", "Claire", "Daniel",
    "Deepa", "Eleanor", "Emeka", "Fatima", "Fiona", "Gareth", "Grace", "Hannah", "Harpreet", "Imran", "Isla",
    "James", "Jo", "Kamal", "Katie", "Liam", "Lucy", "Mandeep", "Mark", "Mei", "Michael", "Nadia", "Niamh",
    "Oliver", "Olu", "Priya", "Rachel", "Rhys", "Ruth", "Sam", "Sarah", "Simon", "Sophie", "Tariq", "Tom",
    "Yusuf", "Zoe",
)
SURNAMES = (
    "Adeyemi", "Ahmed", "Allen", "Bailey", "Begum", "Brown", "Campbell", "Chen", "Clarke", "Davies",
    "Edwards", "Evans", "Fraser", "Ghosh", "Green", "Hall", "Hughes", "Hussain", "Jackson", "Jones", "Kaur",
    "Khan", "Lewis", "Martin", "Mensah", "Morgan", "Murphy", "Nowak", "O'Brien", "Okafor", "Patel", "Price",
    "Roberts", "Robinson", "Shah", "Singh", "Smith", "Taylor", "Thomas", "Walker", "Williams", "Wilson",
    "Wright", "Young",
)

RESPONDENT_ROLES = {
    "glh": ("Head of Bioinformatics", "GLH Operations Manager", "Healthcare Science Lead",
            "Head of Medical Physics"),
    "acute": ("Healthcare Science Lead", "Head of Medical Physics", "Workforce Information Manager",
              "Business Manager, Clinical Support Services", "Head of Clinical Engineering",
              "Deputy Head of Digital"),
    "specialist": ("Healthcare Science Lead", "Head of Informatics", "Workforce Planning Manager"),
    "mental": ("Head of Information", "Digital Workforce Lead", "Workforce Planning Manager"),
    "community": ("Head of Information", "Digital Workforce Lead", "Workforce Manager"),
    "ambulance": ("Head of Digital Services", "Workforce Information Lead"),
    "icb": ("Head of Population Health Analytics", "Workforce Transformation Lead",
            "Digital Programme Manager"),
    "other": ("Workforce Manager", "Head of Information"),
}
SIGNOFF_ROLES = {
    "icb": ("Chief Digital Officer", "Director of People", "Director of Strategy and Transformation"),
    "trust": ("Chief Scientific Officer", "Director of Workforce and OD", "Head of Healthcare Science",
              "Chief Digital Information Officer", "Medical Director", "Chief Operating Officer"),
}

UNIVERSITIES = {
    "Y56": ("University College London", "King's College London", "Imperial College London",
            "Queen Mary University of London", "City, University of London"),
    "Y58": ("University of Bristol", "University of Exeter", "University of Plymouth", "University of Bath"),
    "Y59": ("University of Oxford", "University of Southampton", "University of Sussex",
            "University of Surrey",
            "University of Kent", "University of Reading"),
    "Y60": ("University of Birmingham", "University of Nottingham", "University of Leicester",
            "University of Warwick",
            "Keele University", "Aston University"),
    "Y61": ("University of Cambridge", "University of East Anglia", "University of Essex",
            "Anglia Ruskin University"),
    "Y62": ("University of Manchester", "University of Liverpool", "Lancaster University",
            "Manchester Metropolitan University"),
    "Y63": ("Newcastle University", "University of Leeds", "University of Sheffield", "University of York",
            "University of Hull"),
}
INSTITUTES = ("Wellcome Sanger Institute", "The Francis Crick Institute",
              "EMBL's European Bioinformatics Institute",
              "The Alan Turing Institute", "NIHR Biomedical Research Centre")
COMPANIES = ("Brightwater Medical Software Ltd", "Tessellate Cloud Services Ltd",
             "Cardinal Point Genomics Ltd",
             "Lumenfold Analytics Ltd", "Harrowgate Imaging Systems Ltd")
PUBLIC_PARTNERS = (("Genomics England", "other"), ("NHS England", "nhs"), ("NHS Blood and Transplant", "nhs"),
                   ("UK Health Security Agency", "other"), ("Health Innovation Network", "other"))

CAPACITY_NOTES = (
    "Protected time for a supervisor is the main thing we would need funding for.",
    "We need more registered clinical scientists before we could supervise a trainee properly.",
    "Desk space and access to the secure computing environment are our limits at present.",
    "A shared placement with the regional Genomic Laboratory Hub would make hosting realistic for us.",
    "We would host if the training post came with a substantive post at the end.",
    "Our team is two people; a trainee would need a second site for much of the curriculum.",
    "Clearer guidance on what the health informatics stream expects of a host department.",
    "Help with the accreditation paperwork from the National School.",
)
EMPLOYMENT_NOTES = (
    "Posts are usually advertised to finishing trainees about four months before they qualify.",
    "Band 7 pay is hard to match against local industry for people with software skills.",
    "Hybrid working has helped us keep experienced staff.",
    "We lost two qualified staff to a pharmaceutical company last year.",
    "Most of our bioinformaticians came through the AHCS equivalence route rather than the STP.",
    "We have no HSST places in this area and staff have asked for them.",
    "Recruitment is slow: vacancies take four to six months to fill.",
)

#: Postcode districts near major hospital sites by NHS England region, for organisations whose real
#: postcode is not in the reference table.
REGION_DISTRICTS = {
    "Y56": ("SE1", "SE5", "NW1", "NW3", "WC1N", "W12", "SW17", "E1", "N19", "W2"),
    "Y58": ("BS10", "BS2", "EX2", "PL6", "BA1", "TA1", "GL1", "TR1", "BH7"),
    "Y59": ("OX3", "SO16", "BN2", "RG1", "CT1", "GU2", "PO6", "MK6", "TN2"),
    "Y60": ("B15", "B9", "NG7", "LE1", "CV2", "ST4", "DE22", "WV10", "LN2"),
    "Y61": ("CB2", "NR4", "IP4", "CO4", "PE3", "LU4", "SS0", "CM20"),
    "Y62": ("M13", "M20", "L7", "L9", "PR2", "BB2", "CH2", "CA2", "WN6"),
    "Y63": ("NE1", "NE7", "LS1", "LS9", "S10", "HU3", "YO31", "BD9", "DN2", "SR4", "TS4"),
}
#: Letters a postcode's inward code may use.
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
