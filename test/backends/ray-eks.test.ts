import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HttpKubernetesApi, type KubernetesApi, KubernetesApiError } from '../../backends/kubernetes-api';
import { RayEksBackend, rayJobPath } from '../../backends/ray-eks';
import { type KubernetesObject, type RayJob, rayJobManifest } from '../../backends/ray-job';
import { JOB_ID, submission } from './fixtures';

const NAME = `dt-${JOB_ID}-1`;
const COLLECTION = '/apis/ray.io/v1/namespaces/team-perception/rayjobs';

/** An API server that stores objects by path and answers 404/409 as Kubernetes does. */
class FakeKubernetes implements KubernetesApi {
  readonly calls: { method: string; path: string; body?: unknown }[] = [];
  readonly objects = new Map<string, KubernetesObject>();

  async create<T extends KubernetesObject>(collectionPath: string, object: T): Promise<T> {
    this.calls.push({ method: 'POST', path: collectionPath, body: object });
    const path = `${collectionPath}/${object.metadata.name}`;
    if (this.objects.has(path)) throw new KubernetesApiError(409, 'AlreadyExists', `${path} exists`);
    const stored = { ...object, metadata: { ...object.metadata, uid: `uid-${this.objects.size + 1}` } };
    this.objects.set(path, stored);
    return stored;
  }

  async get<T>(path: string): Promise<T> {
    this.calls.push({ method: 'GET', path });
    const [collection, query] = path.split('?');
    if (query !== undefined) {
      expect(collection).toBe('/apis/ray.io/v1/rayjobs');
      const selector = decodeURIComponent(query);
      if (selector.startsWith('labelSelector=')) {
        const label = selector.slice('labelSelector='.length);
        return {
          items: [...this.objects.values()].filter((o) => o.metadata.labels?.[label] !== undefined),
        } as T;
      }
      const name = selector.replace('fieldSelector=metadata.name=', '');
      const items = [...this.objects.values()].filter((o) => o.metadata.name === name);
      return { items } as T;
    }
    const object = this.objects.get(path);
    if (object === undefined) throw new KubernetesApiError(404, 'NotFound', `${path} not found`);
    return object as T;
  }

  async delete(path: string): Promise<void> {
    this.calls.push({ method: 'DELETE', path });
    if (!this.objects.delete(path)) throw new KubernetesApiError(404, 'NotFound', `${path} not found`);
  }
}

describe('RayEksBackend', () => {
  test('creates the RayJob in the team namespace and returns its uid', async () => {
    // GIVEN
    const api = new FakeKubernetes();
    const attempt = submission({ dispatch: { backend: 'eks' } });

    // WHEN
    const result = await new RayEksBackend(api).submit(attempt);

    // THEN
    expect(result).toEqual({ backendJobId: 'uid-1' });
    expect(api.calls).toEqual([{ method: 'POST', path: COLLECTION, body: rayJobManifest(attempt) }]);
  });

  test('returns the existing RayJob when the attempt was already created (409)', async () => {
    // GIVEN
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api);
    const attempt = submission({ dispatch: { backend: 'eks' } });
    await backend.submit(attempt);

    // WHEN
    const again = await backend.submit(attempt);

    // THEN
    expect(again).toEqual({ backendJobId: 'uid-1' });
    expect(api.objects.size).toBe(1);
    expect(api.calls.at(-1)).toEqual({ method: 'GET', path: `${COLLECTION}/${NAME}` });
  });

  test('finds a RayJob by attempt name across namespaces when the dispatch does not name one', async () => {
    // GIVEN
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api);
    const attempt = submission({ dispatch: { backend: 'eks' } });
    await backend.submit(attempt);

    // WHEN
    const found = await backend.findByName(attempt.dispatch);

    // THEN
    expect(found).toEqual({ backendJobId: 'uid-1' });
    expect(api.calls.at(-1)).toEqual({
      method: 'GET',
      path: `/apis/ray.io/v1/rayjobs?fieldSelector=metadata.name%3D${NAME}`,
    });
  });

  test('finds nothing in a recorded namespace that has no such RayJob', async () => {
    // GIVEN
    const backend = new RayEksBackend(new FakeKubernetes());
    const { dispatch } = submission({ dispatch: { backend: 'eks', queue: 'team-perception' } });

    // WHEN / THEN
    await expect(backend.findByName(dispatch)).resolves.toBeUndefined();
  });

  test('terminates by deleting the RayJob, and a second terminate is not an error', async () => {
    // GIVEN
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api);
    const attempt = submission({ dispatch: { backend: 'eks' } });
    await backend.submit(attempt);

    // WHEN
    await backend.terminate(attempt.dispatch, 'preempted');
    await backend.terminate(attempt.dispatch, 'preempted');

    // THEN
    expect(api.calls.filter((c) => c.method === 'DELETE')).toEqual([
      { method: 'DELETE', path: `${COLLECTION}/${NAME}` },
    ]);
    expect(api.objects.size).toBe(0);
  });

  test('polls the RayJob and reports its state, since EKS publishes no state-change events', async () => {
    // GIVEN a RayJob KubeRay reports as succeeded
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api);
    const attempt = submission({ dispatch: { backend: 'eks' } });
    await backend.submit(attempt);
    const stored = api.objects.get(`${COLLECTION}/${NAME}`) as RayJob;
    api.objects.set(`${COLLECTION}/${NAME}`, {
      ...stored,
      status: { jobDeploymentStatus: 'Complete', jobStatus: 'SUCCEEDED' },
    } as RayJob);

    // WHEN
    const status = await backend.poll(attempt.dispatch);

    // THEN
    expect(status).toMatchObject({ name: NAME, state: 'SUCCEEDED' });
  });

  test('polls nothing once the RayJob is gone', async () => {
    const backend = new RayEksBackend(new FakeKubernetes());

    expect(await backend.poll(submission({ dispatch: { backend: 'eks' } }).dispatch)).toBeUndefined();
  });

  test('escapes names in paths', () => {
    // GIVEN / WHEN / THEN
    expect(rayJobPath('team-a', 'x/../y')).toBe('/apis/ray.io/v1/namespaces/team-a/rayjobs/x%2F..%2Fy');
  });
});

/** A one-day EC certificate from openssl; without `certOut` the PEM is returned. */
function selfSignedCertificate(options: {
  subject: string;
  keyOut: string;
  certOut?: string;
  extra?: string[];
}): string {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push('-keyout', options.keyOut, '-days', '1', '-subj', options.subject, ...(options.extra ?? []));
  if (options.certOut) args.push('-out', options.certOut);
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('HttpKubernetesApi', () => {
  let dir: string;
  let server: Server;
  let endpoint: string;
  let ca: string;
  const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];

  beforeAll(async () => {
    // A real TLS server with a self-signed certificate: the client must trust exactly this CA.
    dir = mkdtempSync(join(tmpdir(), 'drivetrain-k8s-'));
    selfSignedCertificate({
      subject: '/CN=kubernetes',
      keyOut: join(dir, 'key.pem'),
      certOut: join(dir, 'cert.pem'),
      extra: ['-addext', 'subjectAltName=IP:127.0.0.1'],
    });
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        res.setHeader('content-type', 'application/json');
        if (req.method === 'POST') {
          res.statusCode = 409;
          res.end(
            JSON.stringify({
              kind: 'Status',
              reason: 'AlreadyExists',
              message: 'rayjobs "x" already exists',
            }),
          );
        } else {
          res.end(
            JSON.stringify({ apiVersion: 'ray.io/v1', kind: 'RayJob', metadata: { name: 'x', uid: 'u-1' } }),
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('sends the bearer token over TLS to a server signed by the cluster CA (base64 as EKS gives it)', async () => {
    // GIVEN
    const api = new HttpKubernetesApi({
      endpoint,
      certificateAuthority: Buffer.from(ca).toString('base64'),
      token: async () => 'k8s-aws-v1.token',
    });

    // WHEN
    const rayJob = await api.get<RayJob>(`${COLLECTION}/x`);

    // THEN
    expect(rayJob.metadata.uid).toBe('u-1');
    expect(seen.at(-1)).toMatchObject({
      method: 'GET',
      url: `${COLLECTION}/x`,
      authorization: 'Bearer k8s-aws-v1.token',
    });
  });

  test('turns a Status response into a KubernetesApiError with code and reason', async () => {
    // GIVEN
    const api = new HttpKubernetesApi({ endpoint, certificateAuthority: ca, token: async () => 't' });
    const manifest = rayJobManifest(submission({ dispatch: { backend: 'eks' } }));

    // WHEN
    const error = await api.create(COLLECTION, manifest).catch((e: unknown) => e);

    // THEN
    expect(error).toBeInstanceOf(KubernetesApiError);
    expect(error).toMatchObject({ status: 409, reason: 'AlreadyExists' });
    expect(JSON.parse(seen.at(-1)?.body ?? '')).toEqual(manifest);
  });

  test('refuses a server whose certificate the cluster CA did not sign', async () => {
    // GIVEN a CA that is not the server's
    const other = selfSignedCertificate({ subject: '/CN=other', keyOut: '/dev/null' });
    const api = new HttpKubernetesApi({ endpoint, certificateAuthority: other, token: async () => 't' });

    // WHEN / THEN
    await expect(api.get(`${COLLECTION}/x`)).rejects.toThrow(/self.signed|certificate/i);
  });
});

describe('RayEksBackend: all-or-nothing gangs and reconciliation', () => {
  const gang = () =>
    submission({
      spec: { resources: { gpus: 8, gpuType: 'a10g', cpus: 8, memoryMiB: 65_536, nodes: 3 } },
      dispatch: { backend: 'eks', pool: 'eks-a10g-on-demand', queue: 'team-perception' },
    });
  /** The API server's side: KubeRay has written a status and the object has its creation time. */
  const setStatus = (api: FakeKubernetes, status: RayJob['status'], created: string) => {
    const path = `${COLLECTION}/${NAME}`;
    const stored = api.objects.get(path) as RayJob;
    const updated: RayJob = {
      ...stored,
      metadata: { ...stored.metadata, creationTimestamp: created },
      status,
    };
    api.objects.set(path, updated);
  };
  const waiting = {
    jobDeploymentStatus: 'Initializing',
    rayClusterStatus: { state: '', readyWorkerReplicas: 1, desiredWorkerReplicas: 2 },
  };

  test('a gang still waiting for pods inside the timeout is STARTING and left alone', async () => {
    // GIVEN a 3-node gang created 5 minutes ago, one worker still pending
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api, {
      podsReadyTimeoutS: 600,
      now: () => new Date('2026-11-25T10:05:00Z'),
    });
    await backend.submit(gang());
    setStatus(api, waiting, '2026-11-25T10:00:00Z');

    // WHEN
    const status = await backend.poll(gang().dispatch);

    // THEN
    expect(status?.state).toBe('STARTING');
    expect(api.objects.size).toBe(1);
  });

  test('a gang not all running within the timeout is deleted and reported INTERRUPTED with why', async () => {
    // GIVEN the same gang 11 minutes after creation
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api, {
      podsReadyTimeoutS: 600,
      now: () => new Date('2026-11-25T10:11:00Z'),
    });
    await backend.submit(gang());
    setStatus(api, waiting, '2026-11-25T10:00:00Z');

    // WHEN
    const status = await backend.poll(gang().dispatch);

    // THEN the RayJob (and with it the pods holding GPUs) is gone, and the job is requeued
    expect(status).toMatchObject({
      state: 'INTERRUPTED',
      reason: 'gang not running within 600s of creation (1 of 2 workers ready): RayJob deleted, job requeued',
    });
    expect(api.objects.size).toBe(0);
    expect(api.calls.at(-1)).toEqual({ method: 'DELETE', path: `${COLLECTION}/${NAME}` });
  });

  test('a running gang is never torn down, however old', async () => {
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api, {
      podsReadyTimeoutS: 600,
      now: () => new Date('2026-11-26T10:00:00Z'),
    });
    await backend.submit(gang());
    setStatus(api, { jobDeploymentStatus: 'Running', jobStatus: 'RUNNING' }, '2026-11-25T10:00:00Z');

    expect((await backend.poll(gang().dispatch))?.state).toBe('RUNNING');
    expect(api.objects.size).toBe(1);
  });

  test('a RayJob past activeDeadlineSeconds ends FAILED "timed out"', async () => {
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api);
    await backend.submit(gang());
    setStatus(api, { jobDeploymentStatus: 'Failed', reason: 'DeadlineExceeded' }, '2026-11-25T10:00:00Z');

    expect(await backend.poll(gang().dispatch)).toMatchObject({ state: 'FAILED', reason: 'timed out' });
  });

  test('reconcile lists the cluster once and reports the attempts it knows; unknown ones are missing', async () => {
    // GIVEN one live RayJob and a dispatch the cluster never saw
    const api = new FakeKubernetes();
    const backend = new RayEksBackend(api, { now: () => new Date('2026-11-25T10:01:00Z') });
    await backend.submit(gang());
    setStatus(api, { jobDeploymentStatus: 'Running', jobStatus: 'RUNNING' }, '2026-11-25T10:00:00Z');
    const lost = submission({ id: 'lostjob', dispatch: { backend: 'eks' } }).dispatch;

    // WHEN
    api.calls.length = 0;
    const known = await backend.reconcile([gang().dispatch, lost]);

    // THEN
    expect([...known.keys()]).toEqual([NAME]);
    expect(known.get(NAME)?.state).toBe('RUNNING');
    expect(api.calls).toEqual([
      { method: 'GET', path: '/apis/ray.io/v1/rayjobs?labelSelector=drivetrain%2Fjob-id' },
    ]);
  });

  test('every gang pod asks Karpenter not to disrupt its node', () => {
    const manifest = rayJobManifest(gang());
    const templates = [
      manifest.spec.rayClusterSpec.headGroupSpec.template,
      ...(manifest.spec.rayClusterSpec.workerGroupSpecs ?? []).map((g) => g.template),
    ];

    for (const template of templates) {
      expect(template.metadata?.annotations).toEqual({ 'karpenter.sh/do-not-disrupt': 'true' });
    }
  });
});
