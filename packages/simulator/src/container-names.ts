import type { SeededRandom } from './random.js'

/** A name as dockerd generates one: `adjective_surname`, with a digit appended on retries. */
export function randomName (random: SeededRandom, attempt: number): string {
  const left = ADJECTIVES[random.nextUint32() % ADJECTIVES.length] as string
  const right = SURNAMES[random.nextUint32() % SURNAMES.length] as string
  return attempt === 0 ? `${left}_${right}` : `${left}_${right}${random.nextUint32() % 10}`
}

const ADJECTIVES = ['admiring', 'adoring', 'affectionate', 'amazing', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming', 'clever', 'cool',
  'compassionate', 'competent', 'confident', 'cranky', 'crazy', 'dazzling', 'determined', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated',
  'elegant', 'eloquent', 'epic', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'funny', 'gallant', 'gifted', 'goofy',
  'gracious', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'infallible', 'inspiring', 'jolly', 'jovial', 'keen', 'kind', 'laughing',
  'loving', 'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic',
  'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed', 'reverent', 'romantic', 'sad', 'serene',
  'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'upbeat', 'vibrant',
  'vigilant', 'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen']
const SURNAMES = ['albattani', 'allen', 'archimedes', 'babbage', 'banach', 'bardeen', 'bell', 'bhabha', 'bohr', 'booth', 'bose', 'brahmagupta',
  'burnell', 'carson', 'cerf', 'chandrasekhar', 'curie', 'darwin', 'dijkstra', 'dubinsky', 'einstein', 'elion', 'engelbart', 'euclid', 'euler',
  'faraday', 'feynman', 'fermat', 'franklin', 'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hertz', 'hodgkin',
  'hoover', 'hopper', 'hypatia', 'jackson', 'jennings', 'johnson', 'kapitsa', 'keller', 'kepler', 'knuth', 'lalande', 'lamarr', 'leakey',
  'lovelace', 'lumiere', 'mayer', 'mccarthy', 'mclean', 'meitner', 'mendel', 'mirzakhani', 'morse', 'newton', 'nobel', 'noether', 'pascal',
  'pasteur', 'perlman', 'pike', 'poincare', 'ptolemy', 'raman', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shockley', 'sinoussi', 'stonebraker',
  'swanson', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'wescoff', 'williams', 'wilson', 'wing', 'wozniak', 'wright',
  'yalow', 'yonath']
