// Wordpieces back into running text.  Tokenisers mark word boundaries in one of two ways: WordPiece
// (BERT, ELECTRA, MiniLM) prefixes a continuation with "##"; byte-level BPE (RoBERTa, GPT-2: "Ġ") and
// SentencePiece ("▁") prefix a word's first piece instead.  The attribution stays per token, so a word
// is a run of tokens drawn without gaps, never one merged token.

const WORD_START = /^[Ġ▁]/;
// Punctuation that reads as part of the word before it (or, for openers, the word after it; joiners, both: "cat's",
// "well-known"); the tokenisers split it off, so without this "years , appearing" would read as two gaps.
const CLOSES = /^[.,;:!?%)\]}]+$/;
const OPENS = /^[([{]+$/;
const JOINS = /^['’-]+$/;

export function startMarked(tokens, special) {
  return tokens.some((token, i) => !special[i] && WORD_START.test(token));
}

// The text a token shows: its marker dropped.
export function pieceText(token, marked) {
  if (marked) return token.replace(WORD_START, "");
  return token.startsWith("##") && token.length > 2 ? token.slice(2) : token;
}

// Words as runs of token indices, each with `gap`: whether a space goes before it.  A special token is
// always a word of its own; a sentence (segment) change starts a new paragraph, flagged `paragraph`.
export function joinWords(tokens, special, segments = tokens.map(() => 0)) {
  const marked = startMarked(tokens, special);
  const words = [];
  let openedBefore = false;
  tokens.forEach((token, i) => {
    const text = pieceText(token, marked);
    const paragraph = i > 0 && segments[i] !== segments[i - 1];
    const previous = words[words.length - 1];
    const continues = !special[i] && previous && !paragraph && !previous.special
      && (marked ? !WORD_START.test(token) : token.startsWith("##") && token.length > 2);
    if (continues) {
      previous.tokens.push(i);
      previous.texts.push(text);
      openedBefore = false;  // the word no longer ends in an opener: "(the" then "red" are two words
      return;
    }
    const closes = (CLOSES.test(text) || JOINS.test(text)) && !special[i] && previous && !previous.special;
    const gap = i > 0 && !paragraph && !openedBefore && !closes;
    words.push({ tokens: [i], texts: [text], special: Boolean(special[i]), gap, paragraph, segment: segments[i] });
    openedBefore = !special[i] && (OPENS.test(text) || JOINS.test(text));
  });
  return words;
}
