/** Readable random session names (`brave-otter-4821`), for entries that let any client pick one. */

const ADJECTIVES = [
  "amber", "bold", "brave", "bright", "calm", "clever", "cosy", "crisp", "eager", "fair", "fast", "gentle", "glad", "golden",
  "happy", "jolly", "keen", "kind", "lively", "lucky", "merry", "mild", "neat", "noble", "plain", "proud", "quick", "quiet",
  "rapid", "shy", "silver", "smart", "snowy", "solid", "sunny", "swift", "tidy", "vivid", "warm", "wise",
];
const NOUNS = [
  "badger", "beacon", "breeze", "brook", "cedar", "comet", "coral", "crane", "delta", "falcon", "fern", "finch", "fjord",
  "harbor", "heron", "island", "lagoon", "lark", "maple", "meadow", "otter", "panda", "pebble", "pine", "planet", "raven",
  "reef", "river", "robin", "sparrow", "summit", "thistle", "tiger", "tulip", "valley", "walrus", "willow", "wren", "yak", "zephyr",
];

function pick<T>(list: T[]): T {
  return list[crypto.getRandomValues(new Uint32Array(1))[0] % list.length];
}

/** A name matching the session name rule, hard to guess (about 2^21 of them) and easy to read aloud. */
export function randomSessionName(): string {
  const digits = 1000 + (crypto.getRandomValues(new Uint32Array(1))[0] % 9000);
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${digits}`;
}
