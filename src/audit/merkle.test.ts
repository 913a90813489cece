import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompactRange,
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  rootFromLeaves,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

// Vectors from transparency-dev/merkle, proof/verify_test.go (inherited from Google's
// certificate-transparency merkle_tree_test): leaf inputs, the root for each tree size 1..8,
// inclusion proofs {leaf (1-based), size, path} and consistency proofs {size1, size2, path}.
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: Array<[leaf: number, size: number, path: string[]]> = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    2,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CONSISTENCY: Array<[size1: number, size2: number, path: string[]]> = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

const leafHashes = LEAVES.map((hex) => leafHash(h(hex)));

describe('merkle (RFC 6962 / RFC 9162)', () => {
  it('hashes the empty tree as SHA-256 of nothing', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(rootFromLeaves([])).toEqual(EMPTY_ROOT);
  });

  it('computes the published root of every tree size 1..8', () => {
    for (let size = 1; size <= 8; size++) {
      expect(rootFromLeaves(leafHashes.slice(0, size)).toString('hex')).toBe(ROOTS[size - 1]);
    }
  });

  it('produces and verifies the published inclusion proofs', () => {
    for (const [leaf, size, path] of INCLUSION) {
      const proof = inclusionProof(leaf - 1, leafHashes.slice(0, size));
      expect(proof.map((p) => p.toString('hex'))).toEqual(path);
      expect(verifyInclusion(leaf - 1, size, leafHashes[leaf - 1]!, proof, h(ROOTS[size - 1]!))).toBe(true);
    }
  });

  it('produces and verifies the published consistency proofs', () => {
    for (const [size1, size2, path] of CONSISTENCY) {
      const proof = consistencyProof(size1, leafHashes.slice(0, size2));
      expect(proof.map((p) => p.toString('hex'))).toEqual(path);
      expect(verifyConsistency(size1, size2, h(ROOTS[size1 - 1]!), h(ROOTS[size2 - 1]!), proof)).toBe(true);
    }
  });

  it('rejects the corruptions of verify_test.go (wrong index, size, root, extra or flipped nodes)', () => {
    const [leaf, size, path] = INCLUSION[2]!;
    const proof = path.map(h);
    const root = h(ROOTS[size - 1]!);
    const lh = leafHashes[leaf - 1]!;
    expect(verifyInclusion(leaf - 2, size, lh, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, size, lh, proof, root)).toBe(false);
    expect(verifyInclusion(leaf - 1, size * 2, lh, proof, root)).toBe(false);
    expect(verifyInclusion(leaf - 1, size, lh, proof, EMPTY_ROOT)).toBe(false);
    expect(verifyInclusion(leaf - 1, size, lh, [...proof, root], root)).toBe(false);
    expect(verifyInclusion(leaf - 1, size, lh, proof.slice(0, -1), root)).toBe(false);
    const flipped = proof.map((p) => Buffer.from(p));
    flipped[1]![0]! ^= 8;
    expect(verifyInclusion(leaf - 1, size, lh, flipped, root)).toBe(false);

    const [s1, s2, cpath] = CONSISTENCY[2]!;
    const cproof = cpath.map(h);
    const r1 = h(ROOTS[s1 - 1]!);
    const r2 = h(ROOTS[s2 - 1]!);
    expect(verifyConsistency(s1, s2, r2, r1, cproof)).toBe(false);
    expect(verifyConsistency(s1 - 1, s2, r1, r2, cproof)).toBe(false);
    expect(verifyConsistency(s1, s2, r1, r2, [])).toBe(false);
    expect(verifyConsistency(s1, s2, r1, r2, [...cproof, r1])).toBe(false);
    expect(verifyConsistency(s1, s2, r1, r2, cproof.slice(0, -1))).toBe(false);
    expect(verifyConsistency(s2, s1, r1, r2, cproof)).toBe(false);
  });

  it('keeps the compact range root equal to the full recomputation', () => {
    const range = new CompactRange();
    for (let i = 0; i < 8; i++) {
      range.append(leafHashes[i]!);
      expect(range.root().toString('hex')).toBe(ROOTS[i]);
    }
  });

  it('verifies inclusion and consistency proofs for random tree sizes (property)', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => leafHash(`leaf ${i}`));
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 300 })
          .chain((size) =>
            fc.tuple(
              fc.constant(size),
              fc.integer({ min: 0, max: size - 1 }),
              fc.integer({ min: 0, max: size }),
            ),
          ),
        ([size, index, first]) => {
          const tree = leaves.slice(0, size);
          const root = rootFromLeaves(tree);
          const ip = inclusionProof(index, tree);
          expect(verifyInclusion(index, size, tree[index]!, ip, root)).toBe(true);
          expect(verifyInclusion(index, size, leafHash('other'), ip, root)).toBe(false);
          const cp = consistencyProof(first, tree);
          const firstRoot = rootFromLeaves(tree.slice(0, first));
          expect(verifyConsistency(first, size, firstRoot, root, cp)).toBe(true);
          if (first > 0 && first < size) {
            expect(verifyConsistency(first, size, leafHash('x'), root, cp)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
