// Lower convex hulls of systems of 2 to kMaxOrder elements with elemental references at 0 eV/atom,
// on plain arrays: energy above hull, hull vertices (stable compositions), decomposition into hull
// phases, and how deep each vertex lies below the hull of the other points.
//
// Kernels: binaries and ternaries have dedicated ones (hull_binary.hpp, hull_ternary.hpp, with CUDA
// twins); order 4 and above run the N-dimensional kernel of the stability core
// (stability::PointHull: deepest-first insertion over small linear programs), CPU only.
//
// Conventions (the Python layer documents them to users):
//   - A system of order k has points with k fractions each (row-major, rows summing to 1)
//     and an energy per atom. The hull is built from the k elemental references at 0 eV/atom and the
//     points that are not pure elements; a point at a pure composition is never a vertex and its
//     energy above hull is its energy (the reference is fixed at 0).
//   - A point is a hull vertex when it lies more than `tol` below the lower hull of the other points.
//     Points within `tol` of the hull (on a facet or an edge, or an equal-energy duplicate of a
//     vertex) have energy above hull 0 and are not vertices. Of duplicate compositions only the
//     lowest energy (then the lowest index) can be a vertex.
//   - Decomposition: the k vertices of the hull facet (segment, triangle, tetrahedron, ..) below the
//     point and the point's barycentric weights in it, largest weight first; weights below 1e-12 are
//     set to 0. A vertex decomposes into itself with weight 1 (the other k - 1 ids, weight 0, are
//     vertices of a hull facet at it for binaries and ternaries, of a face of the hull through it
//     for higher orders). Vertex ids are point indices within the system (>= 0) or, for the
//     elemental reference of the system's element e, the negative code -1 - e.
//   - Facets (the hull's segments or triangles) are written for binaries and ternaries only.
//   - A system with a non-finite energy is not computed: status 1, energies above hull NaN,
//     weights NaN, no vertex. Status 2 (order >= 4 only, never seen): a linear program hit its
//     iteration limit; the outputs are written but may be off.
#pragma once

#include <cstdint>

// Functions shared with the CUDA twin compile for host and device under nvcc.
#if defined(__CUDACC__)
#define HULLPACK_HD __host__ __device__
#else
#define HULLPACK_HD
#endif

namespace hullpack::hull {

// Most elements per system.
inline constexpr int kMaxOrder = 8;

struct BatchInput {
  int order = 3;                          // 2 (binary), 3 (ternary), .. kMaxOrder
  const double* fractions = nullptr;      // (N, order) rows; (n_grid, order) when shared_grid
  bool shared_grid = false;               // every system uses the same fractions rows
  const double* energies = nullptr;       // N energies per atom, system after system
  const std::int64_t* offsets = nullptr;  // n_sys + 1: system s owns points offsets[s]..offsets[s+1]
  std::int64_t n_sys = 0;
  double tol = 1e-9;                      // eV/atom
  bool general = false;                   // binaries and ternaries too through the N-d kernel (tests)
};

struct BatchOutput {
  double* e_above_hull = nullptr;         // N
  std::uint8_t* is_vertex = nullptr;      // N
  std::int32_t* decomp_index = nullptr;   // N * order, or null
  double* decomp_weight = nullptr;        // N * order, or null (both or neither)
  std::int32_t* facets = nullptr;         // facet_capacity() ints, or null (order 2 and 3); see facet_slot()
  std::int32_t* n_facets = nullptr;       // n_sys (required with facets)
  std::int32_t* n_vertices = nullptr;     // n_sys
  std::uint8_t* status = nullptr;         // n_sys: 0 computed, 1 non-finite energy, 2 not converged
};

// Facets of system s are written as n_facets[s] rows of `order` vertex ids starting at
// facets[facet_slot(order, offsets[s], s)]; a system of n points has at most n + 1 segments
// (binary) or 2 n + 1 triangles (ternary).
HULLPACK_HD inline std::int64_t facet_slot(int order, std::int64_t first_point, std::int64_t system) {
  return order == 2 ? 2 * (first_point + system) : 3 * (2 * first_point + system);
}
HULLPACK_HD inline std::int64_t facet_capacity(int order, std::int64_t n_points, std::int64_t n_sys) {
  return facet_slot(order, n_points, n_sys);
}

// Hulls of all systems, OpenMP over systems (n_threads <= 0: the OpenMP default). Input must be
// validated: order 2..kMaxOrder, offsets non-decreasing from 0, fractions finite, >= 0, rows
// summing to 1; no facets for orders above 3.
void hull_batch(const BatchInput& in, const BatchOutput& out, int n_threads);

// depth[r] (one per point) for the vertices of a batch whose hulls are computed (is_vertex and
// status from hull_batch): the lower hull of the system's other points (pure elements aside,
// duplicates included, references at 0 eV/atom) at the vertex's composition minus its energy, the
// vertex's decomposition energy with the sign flipped; NaN at the other points and in systems with
// a non-zero status. OpenMP over systems; any order.
void vertex_depths(const BatchInput& in, const std::uint8_t* is_vertex, const std::uint8_t* status, double* depth,
                   int n_threads);

}  // namespace hullpack::hull
