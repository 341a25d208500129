"""The advisory's rule for pages shared between processes (docs/advisory.md), for the
oracles of the integration tests: each reading counts its RSS less what its nearest
readings with PSS, before and after it, say it shares (the larger of the two)."""


def shared_of(rss, pss, pss_anon, pss_shmem, rss_anon, rss_shmem):
    """Anonymous and shared-memory pages of a reading less their PSS; None without PSS."""
    if pss is None or pss > rss:
        return None
    if None in (pss_anon, pss_shmem, rss_anon, rss_shmem):
        return rss - pss
    return max(0, rss_anon - pss_anon) + max(0, rss_shmem - pss_shmem)


def shared_per_row(rows, rss_at, pss_at):
    """The shared KiB of each of a process's rows (in time order): rows[k][rss_at] is its
    RSS, rows[k][pss_at:pss_at + 5] its pss_kb, pss_anon_kb, pss_shmem_kb, rss_anon_kb
    and rss_shmem_kb."""
    own = [shared_of(r[rss_at], *r[pss_at:pss_at + 5]) for r in rows]
    out, x = [], 0
    for v in own:
        x = v if v is not None else x
        out.append(x)
    x = 0
    for k in range(len(own) - 1, -1, -1):
        x = own[k] if own[k] is not None else x
        out[k] = max(out[k], x)
    return out
