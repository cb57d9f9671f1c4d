"""The roster builder: a district's organisation, catalogue, people and seats."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from edassets.sandbox.world.columns import (
    as_text,
    decimals,
    midnights,
    pick,
    random_instants,
    rank_within,
    repeat,
    serial_keys,
    utc,
)
from edassets.sandbox.world.ids import Ids
from edassets.sandbox.world.names import Names, unique_usernames
from edassets.sandbox.world.school_year import Calendar
from edassets.sandbox.world.spec import (
    BAND_OF_GRADE,
    BANDS,
    GRADE_LABELS,
    GRADES,
    N_SUBJECTS,
    SUBJECTS,
    DistrictSpec,
    WorldOptions,
)

# PK is a small cohort (partial-day, not universal); high-school cohorts shrink slightly with attrition.
_GRADE_WEIGHTS = np.array([0.3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.05, 1.0, 0.95, 0.9])
# Two elementary schools at least, so even the smallest district has somewhere to transfer to.
_MIN_SCHOOLS_PER_BAND = (2, 1, 1)
_STUDENTS_PER_SCHOOL = 500
_STUDENTS_PER_TEACHER = 18
_CLASS_SIZE = 25
_GUARDED_SHARE = 0.6  # students with guardians in the roster
_SECOND_GUARDIAN_SHARE = 0.5  # of those, students with two
_CO_TEACHER_SHARE = 0.05  # classes with a second, non-primary teacher
_CORE = 4  # the first four SUBJECTS are core: every student takes them all year
# Electives per band (indices into SUBJECTS): elementary schools offer no languages or CS.
_ELECTIVES = ((4, 5, 6), (4, 5, 6, 7, 8), (4, 5, 6, 7, 8))
_MAX_ELECTIVES = 3  # students take 4 core + 0..3 electives = 4..7 classes

_YEAR, _FALL, _SPRING = 0, 1, 2  # term indices
_PERSON_ROLES = ("student", "teacher", "administrator", "guardian")
_GUARDIAN = 3


def _school_counts(students_per_band: np.ndarray, students: int) -> np.ndarray:
    total = max(sum(_MIN_SCHOOLS_PER_BAND), round(students / _STUDENTS_PER_SCHOOL))
    share = students_per_band / students_per_band.sum()
    return np.maximum(_MIN_SCHOOLS_PER_BAND, np.rint(total * share).astype(np.int64))


class Roster:
    """Builds one district's roster, then serves later steps (changes, results, activity).

    The steps run in a fixed order on one generator, so the draws are reproducible; each
    step leaves the index arrays later steps need on ``self`` (student grade and school,
    class school/grade/subject/section/term, seats, person keys…), and the later steps
    continue drawing from ``rng`` and ``ids`` in their fixed order.
    """

    def __init__(self, options: WorldOptions, spec: DistrictSpec, seed: list[int]) -> None:
        self.options, self.spec, self.seed = options, spec, seed
        self.rng = np.random.default_rng(seed)
        self.ids = Ids(self.rng)
        self.cal = Calendar.of(options)

    def build(self) -> dict[str, pd.DataFrame]:
        """The roster frames as created: district, schools, terms, courses, classes, persons, enrollments."""
        rng, n = self.rng, self.spec.students
        self.grade = rng.choice(len(GRADES), size=n, p=_GRADE_WEIGHTS / _GRADE_WEIGHTS.sum())
        band_students = np.bincount(BAND_OF_GRADE[self.grade], minlength=len(BANDS))
        self.schools_per_band = _school_counts(band_students, n)
        self.n_schools = int(self.schools_per_band.sum())
        self.names = Names.draw(self.seed, self.n_schools)

        district = self._district()
        schools = self._schools()
        terms = self._terms()
        self._place_students()
        courses, classes = self._catalogue()
        persons = self._persons()
        enrollments = self._enrollments()
        return {"district": district, "schools": schools, "terms": terms, "courses": courses, "classes": classes,
                "persons": persons, "enrollments": enrollments}

    # --- organisation ------------------------------------------------------------------------

    def _district(self) -> pd.DataFrame:
        created = np.array([np.datetime64(date(self.cal.fall_year, 6, 1), "ms") + np.timedelta64(14, "h")])
        # NCES LEA ids are 2-digit state FIPS + 5 digits; FIPS 99 belongs to no state.
        nces = f"99{int(self.rng.integers(0, 100_000)):05d}"
        return pd.DataFrame({
            "district_key": as_text([f"dist-{self.spec.district_id}"]),
            "sourced_id": self.ids.uuids(1),
            "clever_id": self.ids.object_ids(created),
            "name": as_text([self.spec.name]),
            "nces_id": as_text([nces]),
            "timezone": as_text([self.spec.timezone]),
            "last_modified": utc(created),
        })

    def _schools(self) -> pd.DataFrame:
        n = self.n_schools
        self.school_band = np.repeat(np.arange(len(BANDS)), self.schools_per_band)
        created = random_instants(self.rng, n, date(self.cal.fall_year, 6, 2), 5)
        names = [f"{stem} {BANDS[b][0]}" for stem, b in zip(self.names.school_stems, self.school_band, strict=True)]
        low = np.array([GRADES[BANDS[b][1]] for b in range(len(BANDS))], dtype=object)
        high = np.array([GRADES[BANDS[b][2] - 1] for b in range(len(BANDS))], dtype=object)
        self.school_keys = serial_keys("sch-", n).to_numpy(dtype=object)
        return pd.DataFrame({
            "school_key": as_text(self.school_keys),
            "sourced_id": self.ids.uuids(n),
            "clever_id": self.ids.object_ids(created),
            "name": as_text(names),
            "school_number": as_text(decimals(101 + np.arange(n))),
            "low_grade": as_text(low[self.school_band]),
            "high_grade": as_text(high[self.school_band]),
            "status": repeat("active", n),
            "last_modified": utc(created),
        })

    def _terms(self) -> pd.DataFrame:
        fy, sy = self.cal.fall_year, self.options.school_year
        created = random_instants(self.rng, 3, date(fy, 6, 9), 1)
        self.term_keys = np.array([f"term-{sy}", f"term-{sy}-fall", f"term-{sy}-spring"], dtype=object)
        return pd.DataFrame({
            "term_key": as_text(self.term_keys),
            "sourced_id": self.ids.uuids(3),
            "clever_id": self.ids.object_ids(created),
            "title": as_text([f"{fy}-{sy} School Year", f"Fall {fy} Semester", f"Spring {sy} Semester"]),
            "session_type": as_text(["schoolYear", "semester", "semester"]),
            "start_date": midnights(self.cal.term_starts),
            "end_date": midnights(self.cal.term_ends),
            "parent_key": as_text([None, self.term_keys[_YEAR], self.term_keys[_YEAR]]),
            "school_year": np.full(3, sy, dtype=np.int64),
            "status": as_text(["active"] * 3),
            "last_modified": utc(created),
        })

    def _place_students(self) -> None:
        """Each student attends one school of their grade's band; schools differ in size."""
        rng, n = self.rng, self.spec.students
        band_first = np.r_[0, np.cumsum(self.schools_per_band)[:-1]]
        pull = rng.uniform(0.7, 1.3, self.n_schools)  # some schools draw more families
        school = np.empty(n, dtype=np.int64)
        band = BAND_OF_GRADE[self.grade]
        for b in range(len(BANDS)):  # three bands
            members = np.flatnonzero(band == b)
            local = pull[band_first[b] : band_first[b] + self.schools_per_band[b]]
            school[members] = band_first[b] + rng.choice(local.size, size=members.size, p=local / local.sum())
        self.school = school
        self.band_first = band_first
        self.populated = np.bincount(school * len(GRADES) + self.grade,
                                     minlength=self.n_schools * len(GRADES)).reshape(self.n_schools, len(GRADES)) > 0

    # --- courses, classes and schedules --------------------------------------------------------

    def _catalogue(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng, n = self.rng, self.spec.students
        n_grades = len(GRADES)
        in_band = np.zeros((len(BANDS), N_SUBJECTS), dtype=bool)
        in_band[:, :_CORE] = True
        for b, electives in enumerate(_ELECTIVES):
            in_band[b, list(electives)] = True

        # Student schedules: the four core subjects plus 0..3 electives of their band.
        band = BAND_OF_GRADE[self.grade]
        elective_table = np.full((len(BANDS), max(map(len, _ELECTIVES))), -1)
        for b, electives in enumerate(_ELECTIVES):
            elective_table[b, : len(electives)] = electives
        offered = elective_table[band]
        keys = np.where(offered >= 0, rng.random(offered.shape), np.inf)
        picked = np.argsort(np.argsort(keys, axis=1), axis=1) < rng.integers(0, _MAX_ELECTIVES + 1, n)[:, None]
        e_student, e_col = np.nonzero(picked)
        student = np.r_[np.repeat(np.arange(n), _CORE), e_student]
        subject = np.r_[np.tile(np.arange(_CORE), n), offered[e_student, e_col]]

        # Cells (school, grade, subject): a course wherever the school's band teaches it,
        # sections wherever the school has students of that grade.
        cell = (self.school[student] * n_grades + self.grade[student]) * N_SUBJECTS + subject
        n_cells = self.n_schools * n_grades * N_SUBJECTS
        demand = np.bincount(cell, minlength=n_cells)
        same_band = self.school_band[:, None, None] == BAND_OF_GRADE[None, :, None]
        has_course = same_band & in_band[self.school_band][:, None, :]
        has_classes = (has_course & self.populated[:, :, None]).ravel()
        sections = np.where(has_classes, np.maximum(1, -(-demand // _CLASS_SIZE)), 0)
        self.sections_of_cell = sections

        course_cells = np.flatnonzero(has_course.ravel())
        course_of_cell = np.full(n_cells, -1)
        course_of_cell[course_cells] = np.arange(course_cells.size)
        c_school, c_grade, c_subject = np.unravel_index(course_cells, (self.n_schools, n_grades, N_SUBJECTS))
        codes = np.array([s[0] for s in SUBJECTS], dtype=object)
        titles = np.array([s[1] for s in SUBJECTS], dtype=object)
        grades = np.array(GRADES, dtype=object)
        labels = np.array(GRADE_LABELS, dtype=object)
        course_titles = titles[c_subject] + " " + labels[c_grade]
        course_codes = codes[c_subject] + "-" + grades[c_grade]
        n_courses = course_cells.size
        course_created = random_instants(rng, n_courses, date(self.cal.fall_year, 6, 10), 20)
        self.course_keys = serial_keys("crs-", n_courses).to_numpy(dtype=object)
        courses = pd.DataFrame({
            "course_key": as_text(self.course_keys),
            "sourced_id": self.ids.uuids(n_courses),
            "clever_id": self.ids.object_ids(course_created),
            "school_key": pick(self.school_keys, c_school),
            "title": as_text(course_titles),
            "course_code": as_text(course_codes),
            "subject": as_text(titles[c_subject]),
            "grade_levels": as_text(grades[c_grade]),
            "status": repeat("active", n_courses),
            "last_modified": utc(course_created),
        })

        # Classes: one row per section, cells in (school, grade, subject) order.
        class_cell = np.repeat(np.arange(n_cells), sections)
        n_classes = class_cell.size
        self.first_class_of_cell = np.r_[0, np.cumsum(sections)[:-1]]
        section = np.arange(n_classes) - self.first_class_of_cell[class_cell]
        k_school, k_grade, k_subject = np.unravel_index(class_cell, (self.n_schools, n_grades, N_SUBJECTS))
        # Core subjects run all year; electives alternate semesters by section.
        term = np.where(k_subject < _CORE, _YEAR, _FALL + (k_subject + section) % 2)
        fall, spring = self.term_keys[_FALL], self.term_keys[_SPRING]
        # A year-long class lists both semesters, as real exports do (a quoted multi-value cell).
        term_keys = np.array([f"{fall},{spring}", fall, spring], dtype=object)[term]
        period = np.where(k_subject < _CORE, k_subject + 1, 5 + (k_subject - _CORE) % 3)
        number = decimals(section + 1)
        number = np.where(section + 1 < 10, "0" + number, number)
        class_created = random_instants(rng, n_classes, date(self.cal.fall_year, 7, 1), 31)
        self.class_school, self.class_grade, self.class_subject = k_school, k_grade, k_subject
        self.class_section, self.class_term = section, term
        self.class_keys = serial_keys("cls-", n_classes).to_numpy(dtype=object)
        classes = pd.DataFrame({
            "class_key": as_text(self.class_keys),
            "sourced_id": self.ids.uuids(n_classes),
            "clever_id": self.ids.object_ids(class_created),
            "course_key": as_text(self.course_keys[course_of_cell[class_cell]]),
            "school_key": pick(self.school_keys, k_school),
            "term_keys": as_text(term_keys),
            "title": as_text(course_titles[course_of_cell[class_cell]] + " - Section " + decimals(section + 1)),
            "class_code": as_text(course_codes[course_of_cell[class_cell]] + "-" + number),
            "period": as_text(decimals(period)),
            "subject": as_text(titles[k_subject]),
            "grade": as_text(grades[k_grade]),
            "status": repeat("active", n_classes),
            "last_modified": utc(class_created),
        })

        # Seats: students of a cell are dealt round the cell's sections in random order.
        rank = rank_within(cell, rng.random(cell.size))
        self.seat_student = student
        self.seat_class = self.first_class_of_cell[cell] + rank % sections[cell]
        return courses, classes

    # --- people ------------------------------------------------------------------------------------

    def _persons(self) -> pd.DataFrame:
        rng, n, fy = self.rng, self.spec.students, self.cal.fall_year
        per_school = np.bincount(self.school, minlength=self.n_schools)
        self.teachers_per_school = np.maximum(1, np.rint(per_school / _STUDENTS_PER_TEACHER).astype(np.int64))
        n_teachers = int(self.teachers_per_school.sum())
        n_admins = 2 + n // 10_000  # district office: superintendent, curriculum and data leads
        guarded = np.flatnonzero(rng.random(n) < _GUARDED_SHARE)
        two = rng.random(guarded.size) < _SECOND_GUARDIAN_SHARE
        child = np.r_[guarded, guarded[two]]
        n_guardians = child.size
        self.n_teachers, self.n_admins, self.guardian_child = n_teachers, n_admins, child
        staff = n + np.arange(n_teachers + n_admins)
        guardians = n + n_teachers + n_admins + np.arange(n_guardians)
        total = n + n_teachers + n_admins + n_guardians

        role = np.repeat(np.arange(len(_PERSON_ROLES)), [n, n_teachers, n_admins, n_guardians])
        female = rng.random(total) < 0.5
        # A second guardian is usually the other parent: opposite sex to the first.
        first_guardians = guardians[: guarded.size]
        female[guardians[guarded.size :]] = ~female[first_guardians[two]]
        given, middle, family = self.names.people(rng, female)
        family[guardians] = np.where(rng.random(n_guardians) < 0.85, family[child], family[guardians])
        usernames = unique_usernames(given, family)
        domain = pick(["@example.org", "@example.net"], (role == _GUARDIAN).astype(np.int64))

        sis = np.empty(total, dtype=object)
        sis[:n] = decimals(self.ids.numbers(n, 6))
        sis[staff] = decimals(self.ids.numbers(staff.size, 7))
        sis[guardians] = decimals(self.ids.numbers(n_guardians, 8))
        state = np.full(total, None, dtype=object)
        # State ids with a "999" prefix, which no real state assigns.
        state[:n] = "999" + decimals(self.ids.numbers(n, 7))
        state[staff] = "998" + decimals(self.ids.numbers(staff.size, 6))

        grade = np.full(total, -1)
        grade[:n] = self.grade
        # On 1 September of the fall a student of grade index g is 4 + g (4 in PK, 5 in KG):
        # born within the year that starts on 2 September, 5 + g years before.
        first_birthday = np.array([date(fy - 5 - g, 9, 2) for g in range(len(GRADES))], dtype="datetime64[D]")
        birth = np.full(total, np.datetime64("NaT"), dtype="datetime64[D]")
        birth[:n] = first_birthday[self.grade] + rng.integers(0, 365, n).astype("timedelta64[D]")

        teacher_school = np.repeat(np.arange(self.n_schools), self.teachers_per_school)
        school = np.full(total, -1)
        school[:n] = self.school
        school[n : n + n_teachers] = teacher_school
        self.teacher_first = np.r_[0, np.cumsum(self.teachers_per_school)[:-1]]

        created = np.empty(total, dtype="datetime64[ms]")
        created[:n] = random_instants(rng, n, date(fy, 7, 1), 45)
        created[staff] = random_instants(rng, staff.size, date(fy, 6, 15), 45)
        created[guardians] = created[child] + rng.integers(0, 2 * 86_400_000, n_guardians).astype("timedelta64[ms]")
        keys = serial_keys("per-", total).to_numpy(dtype=object)
        guardian_of = np.full(total, -1)
        guardian_of[guardians] = child
        self.person_keys = keys
        return pd.DataFrame({
            "person_key": as_text(keys),
            "sourced_id": self.ids.uuids(total),
            "clever_id": self.ids.object_ids(created),
            "role": pick(_PERSON_ROLES, role),
            "given_name": as_text(given),
            "middle_name": as_text(middle),
            "family_name": as_text(family),
            "gender": pick(["F", "M"], (~female).astype(np.int64)),
            "email": usernames + domain,
            "username": usernames,
            "sis_id": as_text(sis),
            "state_id": as_text(state),
            "grade": pick(GRADES, grade),
            "birth_date": midnights(birth),
            "school_key": pick(self.school_keys, school),
            "guardian_of": pick(keys, guardian_of),
            "status": repeat("active", total),
            "last_modified": utc(created),
        })

    def _enrollments(self) -> pd.DataFrame:
        rng, n = self.rng, self.spec.students
        n_classes = self.class_keys.size
        # Primary teachers: a school's classes are split into contiguous blocks, one per
        # teacher. Elementary blocks follow grade and section (one teacher, many subjects),
        # secondary blocks follow subject (a maths teacher teaches maths).
        elementary = self.school_band[self.class_school] == 0
        section = self.class_section
        block_key = np.where(elementary, (self.class_grade * 100 + section) * 100 + self.class_subject,
                             (self.class_subject * 100 + self.class_grade) * 100 + section)
        order = np.lexsort((block_key, self.class_school))
        rank = np.empty(n_classes, dtype=np.int64)
        starts = np.searchsorted(self.class_school[order], np.arange(self.n_schools))
        rank[order] = np.arange(n_classes) - starts[self.class_school[order]]
        classes_per_school = np.bincount(self.class_school, minlength=self.n_schools)
        teachers = self.teachers_per_school[self.class_school]
        local = rank * teachers // classes_per_school[self.class_school]
        primary = n + self.teacher_first[self.class_school] + local
        co_classes = np.flatnonzero((rng.random(n_classes) < _CO_TEACHER_SHARE) & (teachers > 1))
        co_count = teachers[co_classes]
        # Any other teacher of the school: an offset of 1..count-1 from the primary one.
        co_offset = 1 + rng.integers(0, 1 << 30, co_classes.size) % (co_count - 1)
        co_local = (local[co_classes] + co_offset) % co_count
        co_teacher = n + self.teacher_first[self.class_school[co_classes]] + co_local

        klass = np.r_[self.seat_class, np.arange(n_classes), co_classes]
        self.enrollment_class = klass
        person = np.r_[self.seat_student, primary, co_teacher]
        m_students = self.seat_class.size
        m = klass.size
        role = (np.arange(m) >= m_students).astype(np.int64)
        is_primary = np.zeros(m, dtype=bool)
        is_primary[m_students : m_students + n_classes] = True
        term = self.class_term[klass]
        created = random_instants(rng, m, date(self.cal.fall_year, 8, 1), 14)
        return pd.DataFrame({
            "enrollment_key": serial_keys("enr-", m),
            "sourced_id": self.ids.uuids(m),
            "class_key": pick(self.class_keys, klass),
            "person_key": pick(self.person_keys, person),
            "role": pick(["student", "teacher"], role),
            "is_primary": is_primary,
            "begin_date": midnights(self.cal.term_starts[term]),
            "end_date": midnights(self.cal.term_ends[term]),
            "status": repeat("active", m),
            "last_modified": utc(created),
        })

