/**
 * The chain's codes that every view shows in words (issue 12): the data classes the
 * network's institutions file records under (record-anchor's `class`; FHIR
 * DocumentReference category slugs) and the security labels (HL7 confidentiality).
 */

/** Data classes, as [slug, words]; the forms offer these. */
export const CLASSES = [
  ['lab', 'Lab results'],
  ['imaging', 'Imaging (X-rays, scans)'],
  ['note', 'Clinical notes'],
  ['medication', 'Medicines'],
  ['allergy', 'Allergies'],
  ['immunization', 'Vaccinations'],
  ['vital-signs', 'Vital signs'],
  ['discharge', 'Discharge summaries'],
];
export const CLASS_WORDS = Object.fromEntries(CLASSES);

/** A data class in words, with its slug. */
export const classWords = (c) => (CLASS_WORDS[c] ? `${CLASS_WORDS[c]} (${c})` : c || '—');

/** Security labels (HL7 v3 Confidentiality), in words. */
export const LABEL_WORDS = { U: 'unrestricted', L: 'low', M: 'moderate', N: 'normal', R: 'restricted', V: 'very restricted' };
