import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

// A CDK app without an outdir synthesizes into a fresh `os.tmpdir()/cdk.out*` (tens of MB of
// staged assets) and never removes it, and so do many scratch dirs of tests and of the
// processes they start: a full run used to leave gigabytes in /tmp. Each test file gets a temp
// dir of its own (TMPDIR, which os.tmpdir(), Python's tempfile and child processes read),
// removed after the file's own after-hooks have stopped what they started.
process.env.DRIVETRAIN_TEST_TMP_BASE ??= tmpdir();
const dir = mkdtempSync(join(process.env.DRIVETRAIN_TEST_TMP_BASE, 'dt-test-'));
process.env.TMPDIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
