// Kubernetes resource.Quantity syntax (apimachinery `resource.ParseQuantity`):
//   <quantity> ::= <sign>? <digits>[.<digits>] <suffix>?
//   <suffix>   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | (e|E)<sign>?<digits>
// `.5`, `5.` and `+5` are accepted like upstream; the exponent must be an integer.

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const SUFFIX_FACTOR: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

export function isQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

/** Numeric value of a quantity (a float, good enough to compare requests with limits), or undefined. */
export function quantityToNumber(value: string): number | undefined {
  const match = QUANTITY.exec(value);
  if (!match) return undefined;
  const base = Number(match[1]);
  const suffix = match[2] ?? "";
  if (suffix === "") return base;
  if (suffix[0] === "e" || suffix[0] === "E") return base * 10 ** Number(suffix.slice(1));
  return base * (SUFFIX_FACTOR[suffix] ?? 1);
}

/**
 * The largest quantity a container resource can hold: the kubelet, the scheduler and quota all
 * read quantities as int64 milli-units (`Quantity.MilliValue`), so anything larger overflows
 * there — the pod is accepted and never runs — and `1e400` is not even a finite number.
 */
export const MAX_RESOURCE_QUANTITY = (2 ** 63 - 1) / 1000;

/** A quantity usable as a container resource: valid syntax, finite, not negative, within int64 milli-units. */
export function checkResourceQuantity(value: string): string | undefined {
  const n = quantityToNumber(value);
  if (n === undefined) {
    return `'${value}' is not a Kubernetes quantity (e.g. "500m", "2", "4Gi")`;
  }
  if (n < 0) return `'${value}' must not be negative`;
  if (!Number.isFinite(n) || n > MAX_RESOURCE_QUANTITY) {
    return `'${value}' is larger than a Kubernetes resource quantity can be (at most 2^63-1 milli-units, about 9.2e15)`;
  }
  return undefined;
}
