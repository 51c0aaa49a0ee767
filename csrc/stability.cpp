// Lower hulls per chemical space and the queries against them (see hullpack/stability.hpp for the
// conventions and the algorithm). OpenMP over the spaces of one size while building, over the query
// spaces while querying; work space per thread, grown inside the parallel loops with any exception
// caught there and rethrown after them.
#include "hullpack/stability.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <vector>

#ifdef HULLPACK_WITH_OPENMP
#include <omp.h>
#endif

namespace hullpack::stability {

namespace {

using i64 = std::int64_t;
using i32 = std::int32_t;
using u8 = std::uint8_t;
using Key = HullSet::Key;

constexpr double kKeep = 1e-10;  // a representative this far above a combination of others is dropped

Key key_of(const i32* el, int m) {
  Key k;
  for (int i = 0; i < m; ++i) (el[i] < 64 ? k.lo : k.hi) |= std::uint64_t{1} << (el[i] & 63);
  return k;
}

bool key_less(const Key& a, const Key& b) { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; }

bool subset(const Key& a, const Key& b) { return (a.lo & ~b.lo) == 0 && (a.hi & ~b.hi) == 0; }

int threads_for(int n_threads, i64 n_items) {
#ifdef HULLPACK_WITH_OPENMP
  if (n_threads <= 0) n_threads = omp_get_max_threads();
  return static_cast<int>(std::max<i64>(1, std::min<i64>(n_threads, n_items / 4)));
#else
  (void)n_threads;
  (void)n_items;
  return 1;
#endif
}

// body(i, thread) for i in [0, n), dynamic schedule; the first exception is rethrown afterwards
// (the remaining iterations are skipped).
template <typename Body>
void parallel_for(i64 n, int n_threads, Body&& body) {
  std::exception_ptr error;
  std::mutex error_lock;
  std::atomic<bool> failed{false};
  (void)n_threads;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel for schedule(dynamic, 8) num_threads(n_threads)
#endif
  for (i64 i = 0; i < n; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
#ifdef HULLPACK_WITH_OPENMP
      body(i, omp_get_thread_num());
#else
      body(i, 0);
#endif
    } catch (...) {
      std::lock_guard<std::mutex> g(error_lock);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

std::size_t HullSet::KeyHash::operator()(const Key& k) const {
  std::uint64_t h = k.lo * 0x9E3779B97F4A7C15ull ^ (k.hi + 0x632BE59BD9B4E019ull + (k.lo << 6) + (k.lo >> 2));
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return static_cast<std::size_t>(h);
}

// Candidate points of the current space (column j: x[j*m .. j*m + m), energy c[j], id) and the
// linear programs' work space.
struct HullSet::Scratch {
  int m = 0;
  i64 n = 0;
  std::vector<double> x, c, lp, b, weights, weights2;
  std::vector<i64> id;
  std::vector<u8> skip, skip2;
  std::vector<int> basis, basis2;
  std::vector<i64> tmp;
  std::vector<double> score;
  signed char pos[kMaxElements];

  Scratch() { std::memset(pos, -1, sizeof pos); }

  void start(const i32* el, int m_) {
    m = m_;
    n = 0;
    for (int k = 0; k < m; ++k) pos[el[k]] = static_cast<signed char>(k);
    if (static_cast<i64>(lp.size()) < lp_scratch_doubles(m)) lp.resize(lp_scratch_doubles(m));
    if (static_cast<int>(basis.size()) < 2 * m) basis.resize(2 * m), basis2.resize(2 * m);
    if (static_cast<int>(b.size()) < m) b.resize(m), weights.resize(m), weights2.resize(m);
  }
  void finish(const i32* el) {
    for (int k = 0; k < m; ++k) pos[el[k]] = -1;
  }
  double* push(double energy, i64 ident) {
    if (static_cast<i64>(c.size()) <= n) {
      const std::size_t cap = std::max<std::size_t>(64, 2 * c.size());
      c.resize(cap), id.resize(cap), skip.resize(cap), skip2.resize(cap);
    }
    const std::size_t need = static_cast<std::size_t>(n + 1) * m;
    if (x.size() < need) x.resize(2 * need);
    c[n] = energy;
    id[n] = ident;
    skip[n] = 0;
    double* row = x.data() + n * m;
    std::fill(row, row + m, 0.0);
    ++n;
    return row;
  }
};

struct HullSet::Query {
  Key key;
  i64 row;     // output index
  i64 member;  // entry index, or -1 for an outside composition
  const i32* el;
  const double* fr;
  int m;
  double energy;
};

HullSet::HullSet(const Compositions& in, double tol, int n_threads) : tol_(tol) {
  const i64 n = in.n, nnz = n > 0 ? in.offsets[n] : 0;
  offsets_.assign(in.offsets, in.offsets + n + 1);
  elements_.assign(in.elements, in.elements + nnz);
  fractions_.assign(in.fractions, in.fractions + nnz);
  energy_.assign(in.energies, in.energies + n);
  std::fill(known_, known_ + kMaxElements, false);
  std::fill(ref_, ref_ + kMaxElements, i64{-1});
  for (i32 e : elements_) known_[e] = true;
  build(n_threads);
}

void HullSet::build(int n_threads) {
  const i64 n = n_entries();
  std::vector<Key> keys(n);
  std::vector<int> m_of(n);
  for (i64 i = 0; i < n; ++i) {
    m_of[i] = static_cast<int>(offsets_[i + 1] - offsets_[i]);
    keys[i] = key_of(elements_.data() + offsets_[i], m_of[i]);
  }
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), i64{0});
  std::sort(order_.begin(), order_.end(), [&](i64 a, i64 b) {
    if (m_of[a] != m_of[b]) return m_of[a] < m_of[b];
    if (!(keys[a] == keys[b])) return key_less(keys[a], keys[b]);
    return a < b;
  });
  space_of_.resize(n);
  rep_of_.resize(n);
  for (i64 p = 0; p < n; ++p) {
    const i64 i = order_[p];
    if (p == 0 || !(keys[i] == keys[order_[p - 1]])) {
      key_.push_back(keys[i]);
      space_m_.push_back(m_of[i]);
      space_el_.push_back(i);
      begin_.push_back(p);
    }
    space_of_[i] = static_cast<i32>(key_.size() - 1);
  }
  begin_.push_back(n);
  const i64 n_sp = n_spaces();
  n_kept_.assign(n_sp, 0);
  n_reps_.assign(n_sp, 0);
  index_.reserve(static_cast<std::size_t>(n_sp) * 2);
  for (i64 s = 0; s < n_sp; ++s) index_.emplace(key_[s], static_cast<i32>(s));

  // spaces of one size at a time; the elemental references come from the first
  std::vector<Scratch> work(std::max(1, threads_for(n_threads, n_sp)));
  i64 s0 = 0;
  while (s0 < n_sp) {
    i64 s1 = s0;
    while (s1 < n_sp && space_m_[s1] == space_m_[s0]) ++s1;
    const int nt = threads_for(n_threads, s1 - s0);
    parallel_for(s1 - s0, nt, [&](i64 k, int t) { build_space(static_cast<i32>(s0 + k), work[t]); });
    if (space_m_[s0] == 1)
      for (i64 s = s0; s < s1; ++s) ref_[elements_[offsets_[space_el_[s]]]] = order_[begin_[s]];
    s0 = s1;
  }
}

void HullSet::reduce_polymorphs(i32 s) {
  const i64 b = begin_[s], e = begin_[s + 1];
  const int m = space_m_[s];
  i64* seg = order_.data() + b;
  const i64 len = e - b;
  auto fr = [&](i64 i) { return fractions_.data() + offsets_[i]; };
  std::sort(seg, seg + len, [&](i64 u, i64 v) {
    const double *a = fr(u), *c = fr(v);
    for (int k = 0; k < m; ++k)
      if (a[k] != c[k]) return a[k] < c[k];
    return u < v;
  });
  for (i64 p = 0; p < len; ++p) rep_of_[seg[p]] = -1;
  for (i64 p = 0; p < len; ++p) {
    const i64 lead = seg[p];
    if (rep_of_[lead] != -1) continue;
    i64 best = lead;
    rep_of_[lead] = lead;
    for (i64 q = p + 1; q < len && fr(seg[q])[0] - fr(lead)[0] <= kSameComposition; ++q) {
      const i64 j = seg[q];
      if (rep_of_[j] != -1) continue;
      bool same = true;
      for (int k = 1; k < m && same; ++k) same = std::fabs(fr(j)[k] - fr(lead)[k]) <= kSameComposition;
      if (!same) continue;
      rep_of_[j] = lead;
      if (energy_[j] < energy_[best] || (energy_[j] == energy_[best] && j < best)) best = j;
    }
    if (best != lead)  // the group's representative is its lowest energy
      for (i64 q = p; q < len && fr(seg[q])[0] - fr(lead)[0] <= kSameComposition; ++q)
        if (rep_of_[seg[q]] == lead) rep_of_[seg[q]] = best;
  }
  // representatives first (in composition order), then the other polymorphs
  std::stable_partition(seg, seg + len, [&](i64 i) { return rep_of_[i] == i; });
  i32 reps = 0;
  while (reps < len && rep_of_[seg[reps]] == seg[reps]) ++reps;
  n_reps_[s] = reps;
}

int HullSet::gather(const i32* el, int m, i32 own, Scratch& w) const {
  w.start(el, m);
  for (int k = 0; k < m; ++k) {
    const i64 r = ref_[el[k]];
    double* row = w.push(r >= 0 ? energy_[r] : 0.0, r >= 0 ? r : -1 - i64{el[k]});
    row[k] = 1.0;
  }
  auto push_entries = [&](i32 s, i64 count) {
    for (i64 p = begin_[s]; p < begin_[s] + count; ++p) {
      const i64 i = order_[p];
      double* row = w.push(energy_[i], i);
      for (i64 q = offsets_[i]; q < offsets_[i + 1]; ++q) row[w.pos[elements_[q]]] = fractions_[q];
    }
  };
  if (m >= 3) {
    const i64 n_sp = n_spaces();
    if (m <= 20 && (i64{1} << m) <= 8 * n_sp + 64) {
      for (std::uint32_t mask = 1; mask + 1 < (1u << m); ++mask) {
        if ((mask & (mask - 1)) == 0) continue;  // single elements: the references
        Key k;
        for (int t = 0; t < m; ++t)
          if (mask >> t & 1) (el[t] < 64 ? k.lo : k.hi) |= std::uint64_t{1} << (el[t] & 63);
        auto it = index_.find(k);
        if (it != index_.end()) push_entries(it->second, n_kept_[it->second]);
      }
    } else {
      const Key whole = key_of(el, m);
      for (i64 s = 0; s < n_sp && space_m_[s] < m; ++s)
        if (space_m_[s] >= 2 && subset(key_[s], whole)) push_entries(static_cast<i32>(s), n_kept_[s]);
    }
  }
  if (own < 0) return 0;
  push_entries(own, n_reps_[own]);
  return n_reps_[own];
}

void HullSet::build_space(i32 s, Scratch& w) {
  reduce_polymorphs(s);
  const int m = space_m_[s];
  if (m == 1) {
    n_kept_[s] = 1;
    return;
  }
  const i32* el = elements_.data() + offsets_[space_el_[s]];
  const int own = gather(el, m, s, w);
  const i64 first = w.n - own;
  // test the representatives highest above the references' plane first: most are dropped quickly
  w.tmp.resize(own);
  w.score.resize(own);
  for (int p = 0; p < own; ++p) {
    const double* xp = w.x.data() + (first + p) * m;
    double plane = 0;
    for (int k = 0; k < m; ++k) plane += xp[k] * w.c[k];
    w.score[p] = w.c[first + p] - plane;
    w.tmp[p] = p;
  }
  std::sort(w.tmp.begin(), w.tmp.end(), [&](i64 a, i64 b) { return w.score[a] > w.score[b] || (w.score[a] == w.score[b] && a < b); });
  for (i64 t = 0; t < own; ++t) {
    const i64 j = first + w.tmp[t];
    w.skip[j] = 1;
    if (w.score[w.tmp[t]] > kKeep) continue;  // above the references alone
    const LpResult r = lower_hull_lp(m, w.n, w.x.data(), w.c.data(), w.skip.data(), w.x.data() + j * m,
                                     w.c[j] - kKeep, w.lp.data(), w.basis.data(), w.weights.data());
    if (r.status != 1) w.skip[j] = 0;  // no combination below it: it stays
  }
  // surviving representatives first
  i64* seg = order_.data() + begin_[s];
  w.tmp.clear();
  for (int p = 0; p < own; ++p)
    if (!w.skip[first + p]) w.tmp.push_back(seg[p]);
  const i32 kept = static_cast<i32>(w.tmp.size());
  for (int p = 0; p < own; ++p)
    if (w.skip[first + p]) w.tmp.push_back(seg[p]);
  std::copy(w.tmp.begin(), w.tmp.end(), seg);
  n_kept_[s] = kept;
  w.finish(el);
}

i64 HullSet::n_hull_points() const {
  return std::accumulate(n_kept_.begin(), n_kept_.end(), i64{0});
}

int HullSet::max_elements() const {
  return space_m_.empty() ? 0 : *std::max_element(space_m_.begin(), space_m_.end());
}

// ---------------------------------------------------------------------------------------------
// queries
// ---------------------------------------------------------------------------------------------

namespace {

// Writes the products of a solved linear program (basis columns with weight above kZeroWeight),
// largest weight first, into the query's slots.
void write_products(const int* basis, const double* weights, int m, const std::vector<i64>& ids, i64* out_id,
                    double* out_w, i64 slots, i32* count) {
  int k = 0;
  for (int i = 0; i < m; ++i)
    if (weights[i] > kZeroWeight) {
      out_id[k] = ids[basis[i]];
      out_w[k] = weights[i];
      ++k;
    }
  for (int i = 1; i < k; ++i)  // insertion sort: k <= m, a handful
    for (int j = i; j > 0 && (out_w[j] > out_w[j - 1] || (out_w[j] == out_w[j - 1] && out_id[j] < out_id[j - 1])); --j) {
      std::swap(out_w[j], out_w[j - 1]);
      std::swap(out_id[j], out_id[j - 1]);
    }
  for (i64 j = k; j < slots; ++j) {
    out_id[j] = std::numeric_limits<i64>::min();
    out_w[j] = 0.0;
  }
  *count = k;
}

}  // namespace

void HullSet::run_group(const Query* qs, i64 nq, Scratch& w, const QueryOutput& out) const {
  const int m = qs[0].m;
  const i32* el = qs[0].el;
  const auto it = index_.find(qs[0].key);
  const i32 sid = it == index_.end() ? -1 : it->second;
  const int own = gather(el, m, sid, w);
  const i64 first = w.n - own, kept_end = first + (sid >= 0 ? n_kept_[sid] : 0);
  for (i64 j = kept_end; j < w.n; ++j) w.skip[j] = 1;  // dropped representatives: off the hull
  u8 unknown = 0;
  for (int k = 0; k < m; ++k)
    if (!known_[el[k]]) unknown = kUnknownElement;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (i64 t = 0; t < nq; ++t) {
    const Query& q = qs[t];
    const i64 row = q.row, slot = out.slot_offsets[row], slots = out.slot_offsets[row + 1] - slot;
    for (int k = 0; k < m; ++k) w.b[k] = q.fr[k];
    const double e = q.energy;
    u8 status = unknown;
    if (m == 1) {  // a pure element against its reference
      const double de = e - w.c[0];
      out.e_above_hull[row] = std::max(0.0, de);
      out.decomposition_energy[row] = de;
      out.stable[row] = q.member >= 0 ? rep_of_[q.member] == q.member : de < -tol_;
      w.basis[0] = 0;
      w.weights[0] = 1.0;
      write_products(w.basis.data(), w.weights.data(), 1, w.id, out.product_id + slot, out.product_weight + slot,
                     slots, out.n_products + row);
      out.status[row] = status;
      continue;
    }
    const LpResult all = lower_hull_lp(m, w.n, w.x.data(), w.c.data(), w.skip.data(), w.b.data(), -kInf,
                                       w.lp.data(), w.basis.data(), w.weights.data());
    // the representative of q's composition among the space's own entries
    i64 pr = -1;
    if (sid >= 0) {
      const i64 rep = q.member >= 0 ? rep_of_[q.member] : -1;
      for (i64 j = first; j < w.n; ++j) {
        if (q.member >= 0) {
          if (w.id[j] == rep) pr = j;
          continue;
        }
        const double* xj = w.x.data() + j * m;
        bool same = true;
        for (int k = 0; k < m && same; ++k) same = std::fabs(xj[k] - w.b[k]) <= kSameComposition;
        if (same && (pr < 0 || w.c[j] < w.c[pr])) pr = j;
      }
    }
    const bool other = pr >= 0 && pr < kept_end;  // the composition is on the hull: leave it out
    LpResult rest = all;
    if (other) {
      for (i64 j = 0; j < w.n; ++j) w.skip2[j] = j == pr;
      rest = lower_hull_lp(m, w.n, w.x.data(), w.c.data(), w.skip2.data(), w.b.data(), -kInf, w.lp.data(),
                           w.basis2.data(), w.weights2.data());
    }
    if (all.status == 2 || rest.status == 2) status |= kNotConverged;
    const double de = e - rest.value;
    out.e_above_hull[row] = std::max(0.0, e - all.value);
    out.decomposition_energy[row] = de;
    const bool lowest = q.member >= 0 ? (pr >= 0 && w.id[pr] == q.member) : (pr < 0 || e < w.c[pr]);
    out.stable[row] = lowest && de < -tol_;
    write_products(other ? w.basis2.data() : w.basis.data(), other ? w.weights2.data() : w.weights.data(), m,
                   w.id, out.product_id + slot, out.product_weight + slot, slots, out.n_products + row);
    out.status[row] = status;
  }
  w.finish(el);
}

void HullSet::run_queries(std::vector<Query>& qs, const QueryOutput& out, int n_threads) const {
  std::sort(qs.begin(), qs.end(), [](const Query& a, const Query& b) {
    if (!(a.key == b.key)) return key_less(a.key, b.key);
    return a.row < b.row;
  });
  std::vector<i64> starts;
  for (i64 i = 0; i < static_cast<i64>(qs.size()); ++i)
    if (i == 0 || !(qs[i].key == qs[i - 1].key)) starts.push_back(i);
  starts.push_back(static_cast<i64>(qs.size()));
  const i64 n_groups = static_cast<i64>(starts.size()) - 1;
  const int nt = threads_for(n_threads, n_groups);
  std::vector<Scratch> work(nt);
  parallel_for(n_groups, nt, [&](i64 g, int t) { run_group(qs.data() + starts[g], starts[g + 1] - starts[g], work[t], out); });
}

void HullSet::query(const Compositions& in, const QueryOutput& out, int n_threads) const {
  std::vector<Query> qs(in.n);
  for (i64 i = 0; i < in.n; ++i) {
    const int m = static_cast<int>(in.offsets[i + 1] - in.offsets[i]);
    const i32* el = in.elements + in.offsets[i];
    qs[i] = Query{key_of(el, m), i, -1, el, in.fractions + in.offsets[i], m, in.energies[i]};
  }
  run_queries(qs, out, n_threads);
}

void HullSet::query_entries(const i64* indices, i64 n, const QueryOutput& out, int n_threads) const {
  std::vector<Query> qs(n);
  for (i64 r = 0; r < n; ++r) {
    const i64 i = indices ? indices[r] : r;
    const int m = static_cast<int>(offsets_[i + 1] - offsets_[i]);
    const i32* el = elements_.data() + offsets_[i];
    qs[r] = Query{key_of(el, m), r, i, el, fractions_.data() + offsets_[i], m, energy_[i]};
  }
  run_queries(qs, out, n_threads);
}

}  // namespace hullpack::stability
