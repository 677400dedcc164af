// The test model's SentencePiece-style ("llama") vocabulary: control tokens, the 256 byte-fallback
// tokens (so any UTF-8 text round-trips), "▁", then a few hundred ASCII pieces so common English
// text costs fewer tokens than one per byte.
//
// llama.cpp's SPM tokenizer starts from single characters and repeatedly merges the adjacent
// pair whose concatenation is a vocabulary entry with the highest score. A multi-character
// piece is therefore only reachable if it can be built by pairwise merges of other entries; every
// word below is added together with all its prefixes, which guarantees such a merge path.

export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
/** First byte token, `<0x00>`; byte b is token BYTE_BASE + b. */
export const BYTE_BASE = 3;
/** U+2581, which SentencePiece uses in place of a space. */
export const SPACE_PIECE = '\u2581';

export interface Vocabulary {
  tokens: string[];
  scores: number[];
  types: number[];
}

const WORDS = (
  'the of and to in is it you that was for on are with as be at this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if ' +
  'will up other about out many then them these so some her would make like him into time has ' +
  'look two more write go see number no way could people my than first water been call who its ' +
  'now find long down day did get come made may part over new sound take only little work know ' +
  'place year live me back give most very after thing our just name good sentence man think say ' +
  'great where help through much before line right too mean old any same tell boy follow came ' +
  'want show also around form three small set put end does another well large must big even ' +
  'such because turn here why ask went men read need land different home us move try kind hand ' +
  'picture again change off play spell air away animal house point page letter mother answer ' +
  'found study still learn should world hello secret model test token text user assistant system ' +
  'question yes please thank thanks'
).split(' ');

const CAPITALIZED = 'The I A It In This That You We He She What How Hello User Assistant System Yes No'.split(' ');

const BIGRAMS = (
  'th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve ' +
  'co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ing ion ent ly'
).split(' ');

// No piece ends in "▁": one would swallow the space that starts the next word's piece.
const PUNCTUATION_PIECES = ['##', '###', '...', SPACE_PIECE + '#', SPACE_PIECE + '##', SPACE_PIECE + '###'];

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/**
 * Builds the vocabulary; pure and deterministic (the order is part of the model's identity).
 * `extraPieces` (with their prefixes) come last, so the ids of every other token stay the same:
 * a model taught a long answer learns it in far fewer steps when its words are single tokens.
 */
export function buildVocabulary(extraPieces: readonly string[] = []): Vocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const index = new Set<string>();
  const add = (text: string, type: number, score: number): void => {
    if (index.has(text)) return;
    index.add(text);
    tokens.push(text);
    scores.push(score);
    types.push(type);
  };

  add('<unk>', TOKEN_TYPE.unknown, 0);
  add('<s>', TOKEN_TYPE.control, 0);
  add('</s>', TOKEN_TYPE.control, 0);
  for (let b = 0; b < 256; b++) add(byteToken(b), TOKEN_TYPE.byte, 0);

  // Normal pieces get decreasing scores in insertion order, like SentencePiece's log-probabilities:
  // short pieces come first, so merges build words left to right from their prefixes.
  let rank = 0;
  const addNormal = (text: string): void => add(text, TOKEN_TYPE.normal, -rank++);
  addNormal(SPACE_PIECE);
  for (let c = 0x21; c <= 0x7e; c++) addNormal(String.fromCharCode(c));
  for (const piece of PUNCTUATION_PIECES) {
    for (let i = 2; i <= piece.length; i++) addNormal(piece.slice(0, i));
  }
  for (const b of BIGRAMS) {
    for (let i = 2; i <= b.length; i++) addNormal(b.slice(0, i));
  }
  const addWithPrefixes = (piece: string): void => {
    for (let i = 2; i <= piece.length; i++) addNormal(piece.slice(0, i));
  };
  for (const w of [...WORDS, ...CAPITALIZED]) addWithPrefixes(SPACE_PIECE + w);
  // The tokenizer adds no implicit leading space, so a text's first word has no "▁".
  for (const w of CAPITALIZED) addWithPrefixes(w);
  for (const piece of extraPieces) addWithPrefixes(piece);
  return { tokens, scores, types };
}
