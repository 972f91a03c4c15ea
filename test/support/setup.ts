// Preloaded before every test file (bunfig.toml). Contract and e2e tests wait on real processes
// and a real control plane; a bun test timeout also kills every process the file started, so the
// bound is generous. No test asserts a duration.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(180_000);
