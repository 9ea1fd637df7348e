/**
 * A small built-in classifier: keyword overlap against a handful of HS headings. It is honest
 * about what it knows: text that matches nothing gets confidence 0 and goes to human review.
 * (The stage-adapters issue replaces this with a trained model over a shipped taxonomy.)
 */
export interface Heading {
  code: string;
  description: string;
  keywords: string[];
}

export const HEADINGS: Heading[] = [
  { code: '6109', description: 'T-shirts, singlets and vests, knitted', keywords: ['t-shirt', 'tshirt', 'tee', 'singlet', 'tank', 'vest', 'crew', 'neck'] },
  { code: '6203', description: "Men's suits, trousers and shorts", keywords: ['trousers', 'jeans', 'shorts', 'suit', 'chinos', 'pants'] },
  { code: '6403', description: 'Footwear with leather uppers', keywords: ['shoes', 'boots', 'sneakers', 'loafers', 'footwear', 'leather', 'sandals'] },
  { code: '8471', description: 'Computers and units thereof', keywords: ['laptop', 'computer', 'notebook', 'desktop', 'keyboard', 'mouse', 'monitor'] },
  { code: '8517', description: 'Telephones and smartphones', keywords: ['phone', 'smartphone', 'mobile', 'cellphone', 'headset', 'router'] },
  { code: '9503', description: 'Toys, puzzles and scale models', keywords: ['toy', 'puzzle', 'doll', 'lego', 'blocks', 'game', 'plush'] },
  { code: '9403', description: 'Furniture', keywords: ['chair', 'table', 'desk', 'sofa', 'shelf', 'bed', 'cabinet', 'wooden'] },
  { code: '2106', description: 'Food preparations', keywords: ['snack', 'protein', 'bar', 'sauce', 'food', 'chocolate', 'cereal'] },
  { code: '3304', description: 'Beauty and make-up preparations', keywords: ['cream', 'lipstick', 'makeup', 'cosmetic', 'lotion', 'serum', 'moisturizer'] },
  { code: '8205', description: 'Hand tools', keywords: ['hammer', 'wrench', 'screwdriver', 'pliers', 'tool', 'spanner'] },
  { code: '8708', description: 'Parts and accessories of motor vehicles', keywords: ['brake', 'bumper', 'gearbox', 'clutch', 'radiator', 'exhaust', 'auto'] },
  { code: '4820', description: 'Notebooks, diaries and stationery of paper', keywords: ['paper', 'diary', 'notepad', 'envelope', 'stationery', 'journal'] },
];

export interface Label {
  label: string;
  confidence: number;
  tier: 'core';
}

const tokens = (text: string): Set<string> => new Set(text.toLowerCase().match(/[a-z][a-z-]*/g) ?? []);

/** Confidence is the best heading's share of all keyword hits, so ambiguous text scores low. */
export function classifyText(text: string, headings: Heading[] = HEADINGS): Label {
  const words = tokens(text);
  const scores = headings.map((h) => h.keywords.filter((k) => words.has(k)).length);
  const total = scores.reduce((a, b) => a + b, 0);
  if (total === 0) return { label: 'unclassified', confidence: 0, tier: 'core' };
  const best = scores.indexOf(Math.max(...scores));
  return { label: headings[best]!.code, confidence: Math.round((scores[best]! / total) * 100) / 100, tier: 'core' };
}
