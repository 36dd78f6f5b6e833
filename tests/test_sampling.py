"""The fast Poisson sampler and the on-disk cache of test-scenario draws (mobench.sampling)."""
import numpy as np
import pytest
import torch
from scipy import stats

from mobench import sampling


@pytest.mark.parametrize("mean", [0.0, 0.3, 5.0, 17.5, 250.0, 5000.0])
def test_poisson_is_the_inverse_cdf_of_its_uniform_integers(mean):
    """Element by element, the guide-table lookup equals a binary search of the same 31-bit
    integers in the CDF table (the tail buckets included)."""
    d = sampling.poisson(mean, (400, 500), torch.Generator().manual_seed(3))
    k0, _, _, thr, _, _ = sampling._tables(mean)
    r = torch.randint(0, 2 ** sampling.BITS, (400, 500), generator=torch.Generator().manual_seed(3), dtype=torch.int32)
    assert torch.equal(d, (torch.searchsorted(thr, r.long(), right=True) + k0).float())


@pytest.mark.parametrize("mean", [0.5, 5.0, 40.0, 900.0])
def test_poisson_follows_the_poisson_law(mean):
    """Chi-square goodness of fit against the Poisson pmf (cells with expected count >= 20,
    the tails pooled) at a fixed seed, and the same test between the new sampler and
    torch.poisson (the sampler the scenarios were drawn with before)."""
    n = 400_000
    new = sampling.poisson(mean, (n,), torch.Generator().manual_seed(11)).numpy()
    old = torch.poisson(torch.full((n,), mean), generator=torch.Generator().manual_seed(12)).numpy()
    lo, hi = (int(x) for x in stats.poisson.ppf([1e-4, 1 - 1e-4], mean))
    edges = np.arange(lo, hi + 2) - 0.5
    edges[0], edges[-1] = -np.inf, np.inf
    expected = n * np.diff(stats.poisson.cdf(edges, mean))
    observed = np.histogram(new, edges)[0]
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3
    table = np.stack([observed, np.histogram(old, edges)[0]])
    assert stats.chi2_contingency(table[:, table.sum(0) > 0]).pvalue > 1e-3
    assert abs(new.mean() - mean) < 5 * np.sqrt(mean / n) + 1e-12


def test_poisson_rejects_a_bad_mean():
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="mean must be finite and >= 0"):
            sampling.poisson(bad, (3,), torch.Generator())


def test_cached_draws_read_back_the_same_paths_and_generator_state(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBENCH_CACHE", str(tmp_path))
    shape = (1024, 1100)  # above MIN_CACHED

    def draw_then_next(seed, cached):
        g = torch.Generator().manual_seed(seed)
        if cached:
            with sampling.cached_draws():
                d = sampling.poisson(5.0, shape, g)
                e = sampling.normal(5.0, 1.6, shape, g)
        else:
            d, e = sampling.poisson(5.0, shape, g), sampling.normal(5.0, 1.6, shape, g)
        return d, e, torch.rand(4, generator=g)  # what the generator gives after the draws

    plain = draw_then_next(7, cached=False)
    assert not any(tmp_path.rglob("*.pt"))  # outside the context nothing is kept
    first = draw_then_next(7, cached=True)
    files = sorted(tmp_path.rglob("*.pt"))
    assert len(files) == 2
    second = draw_then_next(7, cached=True)  # read from the files
    assert sorted(tmp_path.rglob("*.pt")) == files
    for a, b, c in zip(plain, first, second):
        assert torch.equal(a, b) and torch.equal(a, c)
    other = draw_then_next(8, cached=True)  # another generator state: other files, other paths
    assert len(list(tmp_path.rglob("*.pt"))) == 4 and not torch.equal(other[0], plain[0])
    files[0].write_bytes(b"torn")  # an unreadable file is drawn again and rewritten
    assert all(torch.equal(a, b) for a, b in zip(draw_then_next(7, cached=True), plain))


def test_engine_scores_identically_from_the_cache(tmp_path, monkeypatch):
    """Scoring a policy twice (the second time from the cached test paths) gives the same
    numbers; and on the new sampler's test paths a base-stock policy's cost differs from its
    cost on torch.poisson's paths by less than three standard errors of the difference."""
    import mobench
    from mobench.evaluate import rollout
    monkeypatch.setenv("MOBENCH_CACHE", str(tmp_path))
    sim = mobench.make("inventory/lost-sales-v0:L=2,p=9").sim()
    sc = mobench.make("inventory/lost-sales-v0:L=2,p=9").spec.scenarios

    def policy(obs):
        return (19.0 - obs.sum(1, keepdim=True)).clamp(0, 30)

    a = rollout(sim, policy, sc)[0][:, 0]
    assert any(tmp_path.rglob("*.pt"))
    assert np.array_equal(a, rollout(sim, policy, sc)[0][:, 0])

    class TorchPoisson(type(sim)):
        def sample_demand(self, batch, periods, generator):
            return torch.poisson(torch.full((batch, periods), self.mean), generator=generator)

    old_sim = TorchPoisson(sim.L, sim.p, sim.h, True, "poisson", sim.mean, None, 30.0)
    b = rollout(old_sim, policy, sc)[0][:, 0]
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) < 3 * se
