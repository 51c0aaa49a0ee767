// Stability of compositions with any number of elements against a set of entries (compositions with
// energies per atom): energy above the lower convex hull, decomposition energy, stable flag and the
// decomposition, on plain arrays.
//
// Conventions (the Python layer, hullpack.stability, documents them to users):
//   - A composition is a row of strictly ascending element ids in [0, kMaxElements) with fractions
//     > 0 summing to 1; its chemical space S is its set of elements. The hull of S is the lower
//     convex hull of every entry whose elements are a subset of S, in S's fractions and energy.
//   - Elemental reference of element e: the lowest-energy entry of pure e when there is one, else an
//     implicit reference at 0 eV/atom (product id -1 - e).
//   - Entries at the same composition (every fraction within kSameComposition) are polymorphs; only
//     the lowest energy (then the lowest index) takes part in hulls: the composition's representative.
//   - e_above_hull(q) = max(0, E(q) - hull(q)): the hull of the entries at q's composition.
//   - decomposition_energy(q) = E(q) - hull'(q), hull' built from the entries at compositions other
//     than q's (Bartel's signed decomposition enthalpy, pymatgen's phase separation energy: negative
//     for a stable compound, e_above_hull for one whose composition has no hull vertex). For a pure
//     element it is E(q) minus the element's reference.
//   - stable(q): an entry (a query that is an entry of the set) is stable when it is its
//     composition's representative and its decomposition energy is below -tol; an outside composition
//     is stable when its energy is below every entry's at its composition and its decomposition
//     energy is below -tol. A pure-element entry is stable when it is its element's representative.
//   - Decomposition of q: the phases of the reaction behind its decomposition energy, that is the
//     vertices of hull' (or of hull when q's composition has no hull vertex) under q, with their atom
//     fractions, largest first (weights below 1e-12 left out); never q itself. For an unstable
//     compound these are the phases it decomposes into; for a stable one, its competing phases.
//
// The algorithm (why: many small chemical spaces, most entries off the hull, a hull vertex of a
// space is a vertex of every larger space that contains it):
//   - Spaces are processed by increasing number of elements. The vertices of space S that lie in its
//     interior (all of S's elements present) are found among S's own representatives only: the
//     candidates are the elemental references, the interior vertices of every proper subspace of S
//     (the faces of S's simplex, computed before), and S's representatives. A representative is
//     dropped when a convex combination of the other remaining candidates lies more than 1e-10
//     eV/atom below it (a small linear program, stopped as soon as such a combination is found);
//     dropping a point above the hull of the others never changes the hull, so the survivors span
//     exactly the same hull. Spaces of one size are independent: OpenMP over them.
//   - A query in space S solves the linear program min sum_j w_j E_j subject to sum_j w_j x_j = x_q,
//     w >= 0, over S's candidates (the elemental references as the starting basis), once for
//     hull(q) and, when q's composition has a surviving representative, once more without it for
//     hull'(q). Queries are grouped by space, OpenMP over spaces.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace hullpack::stability {

constexpr int kMaxElements = 128;             // element ids lie in [0, kMaxElements)
constexpr double kSameComposition = 1e-9;     // fractions this close are one composition
constexpr double kZeroWeight = 1e-12;         // decomposition weights below this are left out
constexpr double kReducedCost = 1e-13;        // times the energy scale: reduced costs above -this improve nothing

// Rows of compositions with energies: row r owns elements/fractions[offsets[r] .. offsets[r + 1]).
// Validated by the caller: offsets strictly increasing from 0, ids strictly ascending per row and in
// range, fractions finite and > 0 summing to 1 within 1e-9, energies finite.
struct Compositions {
  std::int64_t n = 0;
  const std::int64_t* offsets = nullptr;
  const std::int32_t* elements = nullptr;
  const double* fractions = nullptr;
  const double* energies = nullptr;
};

// Status bits of a query.
enum : std::uint8_t {
  kUnknownElement = 1,  // an element no entry contains (its implicit reference at 0 eV/atom was used)
  kNotConverged = 2,    // a linear program hit its iteration limit (never seen; results are bounds)
};

// Results of n queries. Product slots of query i are slot_offsets[i] .. slot_offsets[i + 1] (at least
// as many as its elements); n_products[i] of them are used, the rest hold id INT64_MIN, weight 0.
struct QueryOutput {
  const std::int64_t* slot_offsets = nullptr;  // n + 1
  double* e_above_hull = nullptr;              // n
  double* decomposition_energy = nullptr;      // n
  std::uint8_t* stable = nullptr;              // n
  std::uint8_t* status = nullptr;              // n
  std::int32_t* n_products = nullptr;          // n
  std::int64_t* product_id = nullptr;          // entry index >= 0, or -1 - e: implicit reference of e
  double* product_weight = nullptr;
};

// Lower hulls of every chemical space of a set of entries, built once; queries are const and can run
// concurrently.
class HullSet {
 public:
  // Copies the entries. n_threads <= 0: the OpenMP default.
  HullSet(const Compositions& entries, double tol, int n_threads);

  // Outside compositions (not entries): each against the hulls of the entries.
  void query(const Compositions& queries, const QueryOutput& out, int n_threads) const;
  // Entries indices[0..n) against the hulls they belong to (null indices: every entry in order).
  void query_entries(const std::int64_t* indices, std::int64_t n, const QueryOutput& out, int n_threads) const;

  std::int64_t n_entries() const { return static_cast<std::int64_t>(energy_.size()); }
  std::int64_t n_spaces() const { return static_cast<std::int64_t>(space_m_.size()); }
  // Representatives that span the hulls (hull vertices, plus points within 1e-10 eV/atom of a hull).
  std::int64_t n_hull_points() const;
  int max_elements() const;  // most elements of one entry
  int entry_size(std::int64_t i) const { return static_cast<int>(offsets_[i + 1] - offsets_[i]); }
  bool knows_element(int e) const { return e >= 0 && e < kMaxElements && known_[e]; }
  double tol() const { return tol_; }

  struct Key {
    std::uint64_t lo = 0, hi = 0;
    bool operator==(const Key& o) const { return lo == o.lo && hi == o.hi; }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct Scratch;  // per-thread work space (stability.cpp)
  struct Query;    // one query's composition, energy and membership

 private:
  void build(int n_threads);
  void build_space(std::int32_t s, Scratch& w);
  void reduce_polymorphs(std::int32_t s);
  // Candidates of space S (elements el[0..m)): references, then subspaces' interior vertices, then
  // (with own) S's own representatives; returns how many of them are S's own.
  int gather(const std::int32_t* el, int m, std::int32_t own, Scratch& w) const;
  void run_group(const Query* qs, std::int64_t nq, Scratch& w, const QueryOutput& out) const;
  void run_queries(std::vector<Query>& qs, const QueryOutput& out, int n_threads) const;

  double tol_;
  // entries (copied)
  std::vector<std::int64_t> offsets_;
  std::vector<std::int32_t> elements_;
  std::vector<double> fractions_, energy_;
  std::vector<std::int32_t> space_of_;  // entry -> its space
  std::vector<std::int64_t> rep_of_;    // entry -> its composition's representative
  // spaces: entries of space s are order_[begin_[s] .. begin_[s + 1]): the surviving representatives
  // (n_kept_[s]), then the dropped representatives (up to n_reps_[s]), then the other polymorphs
  std::vector<std::int64_t> order_, begin_;
  std::vector<std::int32_t> n_kept_, n_reps_;
  std::vector<std::int32_t> space_m_;   // elements of space s
  std::vector<std::int64_t> space_el_;  // first entry of space s (its elements are that entry's)
  std::vector<Key> key_;
  std::unordered_map<Key, std::int32_t, KeyHash> index_;
  std::int64_t ref_[kMaxElements];      // elemental reference entry, or -1 (implicit 0 eV/atom)
  bool known_[kMaxElements];
};

// min sum_j w_j c_j s.t. sum_j w_j x_j = b, w >= 0 over the columns j of x (n rows of m coordinates,
// row-major); columns 0..m-1 must be the unit vectors (the elemental references), the feasible
// starting basis. skip (n flags, or null): columns left out. Stops early once the objective is below
// stop_below. Work space: lp_scratch_doubles(m) doubles and 2 m ints (basis).
// On return basis[0..m) holds the final basis and weights[0..m) its weights (the basic solution);
// when optimal (status 0), work[m * m .. m * m + m) holds its simplex multipliers y: c_j - y . x_j
// is the reduced cost of column j, >= -kReducedCost max(1, |c|) for every column taken into account.
// warm_start: start from the basis in basis[0..m) instead (a basis of these columns, e.g. the final
// basis of an earlier call for the same b with columns added since, or of a nearby b); if its
// basic solution for b has a weight below -1e-12, nothing is done and the status is 3.
struct LpResult {
  double value = 0;
  int status = 0;     // 0 optimal, 1 stopped below stop_below, 2 iteration limit, 3 infeasible start
  int n_basis = 0;    // m
};
std::int64_t lp_scratch_doubles(int m);
LpResult lower_hull_lp(int m, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip,
                       const double* b, double stop_below, double* work, int* basis, double* weights,
                       bool warm_start = false);
// The same program from a basis that is optimal for another composition (its reduced costs are
// >= 0 whatever b is): dual simplex pivots until its weights are >= 0, then lower_hull_lp from
// there. Status 3 (nothing usable) or 2 (iteration limit) leave the caller to start afresh.
LpResult lower_hull_lp_dual(int m, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip,
                            const double* b, double* work, int* basis, double* weights);

// ---------------------------------------------------------------------------------------------
// The lower hull of one system of points: the N-dimensional kernel of hullpack/hull.hpp (its
// conventions: m elements, elemental references at 0 eV/atom, pure-element points never vertices,
// tol, decomposition ids -1 - e for the references), used there for orders >= 4, and the vertex
// depths of any order.
//
// Algorithm (stability_points.cpp), the ternary kernel's in any dimension: the point deepest below
// the current hull (at first the references' plane, E = 0) is inserted, and only points more than
// tol below the hull stay candidates; the deepest point is always a vertex of the final hull, so
// inserted points are never removed, and depths only shrink. Each candidate keeps the optimal
// basis and simplex multipliers of its linear program over the inserted points, so an insertion
// costs one dot product per candidate, and a warm-started re-solve only where the new point lowers
// the hull (its reduced cost is negative). Last, an inserted point within tol of the hull of the
// other inserted points (a rounding-level tie) is excluded and the hull rebuilt, as the ternary
// kernel does. Energies above hull and decompositions come from one small linear program per point
// over the references and the vertices.
// ---------------------------------------------------------------------------------------------

struct PointHullOutput {
  double* e_above_hull = nullptr;        // n
  std::uint8_t* is_vertex = nullptr;     // n
  std::int32_t* decomp_index = nullptr;  // n * m, or null
  double* decomp_weight = nullptr;       // n * m, or null (both or neither)
  std::int32_t n_vertices = 0;
  bool converged = true;                 // false if a linear program hit its iteration limit (never seen)
};

// Work space for systems of points, reused from system to system (one per thread).
class PointHull {
 public:
  // The lower hull of one system: n points of m fractions each (row-major, rows summing to 1,
  // finite and >= 0) with finite energies e (eV/atom). Fills every output out names.
  void run(int m, std::int64_t n, const double* fractions, const double* e, double tol, PointHullOutput& out);

  // depth[i] for each vertex i (is_vertex[i] != 0): the lower hull of the system's other points
  // (all of them but the pure elements, duplicates of i included; the references at 0 eV/atom) at
  // i's composition, minus i's energy: > tol for a vertex unless a duplicate of it lies within tol.
  // NaN where is_vertex[i] is 0. The vertices may come from any kernel (order 2 and 3 too). Returns
  // false if a linear program hit its iteration limit (never seen).
  bool vertex_depths(int m, std::int64_t n, const double* fractions, const double* e, const std::uint8_t* is_vertex,
                     double* depth);

 private:
  void setup(int m, std::int64_t n, const double* fractions, const double* e);
  bool build(double tol);
  std::int64_t exclude_flat(double tol);
  void reset_columns();
  void add_column(std::int64_t point);
  std::int64_t n_columns() const { return static_cast<std::int64_t>(cc_.size()); }
  LpResult solve(const double* b, double stop_below, const int* start);
  double depth_of(std::int64_t v, bool& converged);
  bool deeper(std::int64_t i, std::int64_t j) const;

  int m_ = 0;
  std::int64_t n_ = 0;
  const double* e_ = nullptr;
  double scale_ = 1;                     // max(1, |energies| of the non-pure points)
  std::vector<double> x_;                // n * m fractions, each row divided by its sum
  std::vector<std::uint8_t> state_, stale_;  // per point (stability_points.cpp)
  std::vector<double> depth_, y_;        // candidates: depth, multipliers (m each)
  std::vector<int> basis_;               // candidates: optimal basis (m each), columns of the hull
  std::vector<std::int64_t> pending_;      // candidates, a max-heap by depth (bound)
  std::vector<std::uint8_t> in_columns_;  // per point: a column of the current linear programs
  // the columns of the current linear programs: references, then points (column -> point id)
  std::vector<double> cx_, cc_;
  std::vector<std::int64_t> cid_;
  std::vector<std::uint8_t> cskip_;
  std::vector<double> lp_, w_;
  std::vector<int> lp_basis_, last_;
  std::vector<std::int32_t> ids_;
};

}  // namespace hullpack::stability
