// The Porter (1980) suffix-stripping stemmer, the one Lucene's PorterStemFilter and so pyserini's
// default English analyzer apply. Input must be lower case.

const consonant = '[^aeiou]';
const vowel = '[aeiouy]';
const consonantSeq = `${consonant}[^aeiouy]*`;
const vowelSeq = `${vowel}[aeiou]*`;
const measureAtLeast1 = new RegExp(`^(${consonantSeq})?${vowelSeq}${consonantSeq}`);
const measureExactly1 = new RegExp(`^(${consonantSeq})?${vowelSeq}${consonantSeq}(${vowelSeq})?$`);
const measureAtLeast2 = new RegExp(`^(${consonantSeq})?${vowelSeq}${consonantSeq}${vowelSeq}${consonantSeq}`);
const hasVowel = new RegExp(`^(${consonantSeq})?${vowel}`);
const endsCvc = new RegExp(`^${consonantSeq}${vowel}[^aeiouwxy]$`);
const doubleConsonant = /([^aeiouylsz])\1$/;

const step2Suffixes: Record<string, string> = {
  ational: 'ate',
  tional: 'tion',
  enci: 'ence',
  anci: 'ance',
  izer: 'ize',
  bli: 'ble',
  alli: 'al',
  entli: 'ent',
  eli: 'e',
  ousli: 'ous',
  ization: 'ize',
  ation: 'ate',
  ator: 'ate',
  alism: 'al',
  iveness: 'ive',
  fulness: 'ful',
  ousness: 'ous',
  aliti: 'al',
  iviti: 'ive',
  biliti: 'ble',
  logi: 'log',
};
const step3Suffixes: Record<string, string> = {
  icate: 'ic',
  ative: '',
  alize: 'al',
  iciti: 'ic',
  ical: 'ic',
  ful: '',
  ness: '',
};
const step2 =
  /^(.+?)(ational|tional|enci|anci|izer|bli|alli|entli|eli|ousli|ization|ation|ator|alism|iveness|fulness|ousness|aliti|iviti|biliti|logi)$/;
const step3 = /^(.+?)(icate|ative|alize|iciti|ical|ful|ness)$/;
const step4 = /^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)$/;
const step4Ion = /^(.+?)(s|t)(ion)$/;

/** Porter-stems one lower-case word (words shorter than 3 characters are returned unchanged). */
export function porterStem(input: string): string {
  if (input.length < 3) return input;
  let word = input;
  const startsWithY = word.charCodeAt(0) === 121; // a leading y is a consonant
  if (startsWithY) word = `Y${word.slice(1)}`;

  // Step 1a: plurals.
  let match = /^(.+?)(ss|i)es$/.exec(word);
  if (match !== null) word = match[1]! + match[2]!;
  else {
    match = /^(.+?)([^s])s$/.exec(word);
    if (match !== null) word = match[1]! + match[2]!;
  }

  // Step 1b: -eed, -ed, -ing.
  match = /^(.+?)eed$/.exec(word);
  if (match !== null) {
    if (measureAtLeast1.test(match[1]!)) word = word.slice(0, -1);
  } else {
    match = /^(.+?)(ed|ing)$/.exec(word);
    if (match !== null && hasVowel.test(match[1]!)) {
      word = match[1]!;
      if (/(at|bl|iz)$/.test(word)) word += 'e';
      else if (doubleConsonant.test(word)) word = word.slice(0, -1);
      else if (endsCvc.test(word)) word += 'e';
    }
  }

  // Step 1c: y -> i after a vowel-containing stem.
  match = /^(.+?)y$/.exec(word);
  if (match !== null && hasVowel.test(match[1]!)) word = `${match[1]!}i`;

  // Step 2: double suffixes.
  match = step2.exec(word);
  if (match !== null && measureAtLeast1.test(match[1]!)) word = match[1]! + step2Suffixes[match[2]!]!;

  // Step 3: -ic-, -full, -ness.
  match = step3.exec(word);
  if (match !== null && measureAtLeast1.test(match[1]!)) word = match[1]! + step3Suffixes[match[2]!]!;

  // Step 4: -ant, -ence, … when the measure is > 1.
  match = step4.exec(word);
  if (match !== null) {
    if (measureAtLeast2.test(match[1]!)) word = match[1]!;
  } else {
    match = step4Ion.exec(word);
    if (match !== null) {
      const stem = match[1]! + match[2]!;
      if (measureAtLeast2.test(stem)) word = stem;
    }
  }

  // Step 5: a final -e, and -ll.
  match = /^(.+?)e$/.exec(word);
  if (match !== null) {
    const stem = match[1]!;
    if (measureAtLeast2.test(stem) || (measureExactly1.test(stem) && !endsCvc.test(stem))) word = stem;
  }
  if (/ll$/.test(word) && measureAtLeast2.test(word)) word = word.slice(0, -1);

  if (startsWithY) word = `y${word.slice(1)}`;
  return word;
}
