// Lower convex hulls of binary and ternary systems with elemental references at 0 eV/atom, on plain
// arrays: energy above hull, hull vertices (stable compositions), decomposition into hull phases.
//
// Conventions (the Python layer documents them to users):
//   - A system of order k (2 or 3) has points with k fractions each (row-major, rows summing to 1)
//     and an energy per atom. The hull is built from the k elemental references at 0 eV/atom and the
//     points that are not pure elements; a point at a pure composition is never a vertex and its
//     energy above hull is its energy (the reference is fixed at 0).
//   - A point is a hull vertex when it lies more than `tol` below the lower hull of the other points.
//     Points within `tol` of the hull (on a facet or an edge, or an equal-energy duplicate of a
//     vertex) have energy above hull 0 and are not vertices. Of duplicate compositions only the
//     lowest energy (then the lowest index) can be a vertex.
//   - Decomposition: the k vertices of the hull facet (segment, triangle) below the point and the
//     point's barycentric weights in it, largest weight first; weights below 1e-12 are set to 0. A
//     vertex decomposes into itself with weight 1. Vertex ids are point indices within the system
//     (>= 0) or, for the elemental reference of the system's element e, the negative code -1 - e.
//   - A system with a non-finite energy is not computed: status 1, energies above hull NaN,
//     weights NaN, no vertex.
#pragma once

#include <cstdint>

// Functions shared with the CUDA twin compile for host and device under nvcc.
#if defined(__CUDACC__)
#define HULLPACK_HD __host__ __device__
#else
#define HULLPACK_HD
#endif

namespace hullpack::hull {

struct BatchInput {
  int order = 3;                          // 2 (binary) or 3 (ternary)
  const double* fractions = nullptr;      // (N, order) rows; (n_grid, order) when shared_grid
  bool shared_grid = false;               // every system uses the same fractions rows
  const double* energies = nullptr;       // N energies per atom, system after system
  const std::int64_t* offsets = nullptr;  // n_sys + 1: system s owns points offsets[s]..offsets[s+1]
  std::int64_t n_sys = 0;
  double tol = 1e-9;                      // eV/atom
};

struct BatchOutput {
  double* e_above_hull = nullptr;         // N
  std::uint8_t* is_vertex = nullptr;      // N
  std::int32_t* decomp_index = nullptr;   // N * order, or null
  double* decomp_weight = nullptr;        // N * order, or null (both or neither)
  std::int32_t* facets = nullptr;         // facet_capacity() ints, or null; see facet_slot()
  std::int32_t* n_facets = nullptr;       // n_sys (required with facets)
  std::int32_t* n_vertices = nullptr;     // n_sys
  std::uint8_t* status = nullptr;         // n_sys: 0 computed, 1 non-finite energy
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
// validated: order 2 or 3, offsets non-decreasing from 0, fractions finite, >= 0, rows summing to 1.
void hull_batch(const BatchInput& in, const BatchOutput& out, int n_threads);

}  // namespace hullpack::hull
