// Bin packing, balanced partitioning and their lower bounds, on plain arrays.
//
// Every function assumes validated input (the bindings check it first): n >= 1, k >= 1, sizes
// finite and >= 0 stored row-major (item i, dimension d at sizes[i * k + d]), capacities finite and
// > 0, no item larger than the capacity, `order` either null or a permutation of 0..n-1.
//
// The placement sequence: items are taken in `order` (identity when null) stably sorted by
// decreasing key, so items with equal keys keep their relative position in `order`.
#pragma once

#include <cstdint>

namespace hullpack::packing {

enum class Method {
  first_fit,  // first-fit-decreasing: the lowest-numbered bin with room
  best_fit,   // best-fit-decreasing: the fullest bin with room (ties: the lowest-numbered)
};

// The sort key of each item: its size when k == 1, else max_d sizes[i, d] / capacity[d].
void packing_keys(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                  double* keys);

// Packs items, in the placement sequence of packing_keys, into bins of `capacity` (k values). An item
// fits a bin when load[d] + size[d] <= capacity[d] for every d. First fit takes the lowest-numbered
// bin that fits; best fit the bin with the largest load (k == 1) or the largest sum_d
// load[d] / capacity[d] (k > 1) among those that fit, ties to the lowest number. A new bin is opened
// only when none fits, so bins are numbered in opening order and none is empty. Writes
// bin_of_item (n) and returns the number of bins.
std::int64_t pack(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                  const std::int64_t* order, Method method, std::int64_t* bin_of_item);

// How balance() improves the largest-first split.
enum class Refine {
  none,      // largest first only
  lightest,  // swaps between the heaviest and the lightest batch while that lowers the heaviest
  exchange,  // swaps and moves between the heaviest batch and any other batch (see balance.cpp)
};

// Splits n items into n_batches (1 <= n_batches <= n) batches whose cardinalities differ by at
// most one (n % n_batches of them get one item more). Largest-first: items in the placement sequence
// of `keys` (costs when null) each go to the lightest batch by keys that still has room (ties: the
// lowest-numbered). The refinement then works on the real `costs`: Refine::lightest swaps items
// between the heaviest and the lightest batch while that lowers the heaviest; Refine::exchange
// repeatedly makes the exchange (a swap of two items, or a move of one item from a batch of
// q + 1 items to one of q) between the heaviest batch and another batch that lowers the heaviest
// the most, scanning other batches from the lightest up, in O(n) item visits at most (balance.cpp
// gives the exact budget). Deterministic: equal input gives equal output on any process. Writes
// bin_of_item (n), values in 0..n_batches-1.
void balance(const double* costs, std::int64_t n, std::int64_t n_batches,
             const std::int64_t* order, Refine refine, std::int64_t* bin_of_item,
             const double* keys = nullptr);

// A lower bound on the number of bins any packing needs: the largest of ceil(total_d /
// capacity_d) and the number of items above half the capacity in one dimension (no two of them
// share a bin).
double lower_bound_pack(const double* sizes, std::int64_t n, std::int64_t k,
                        const double* capacity);

// The parts of lower_bound_balance, each a lower bound on its own (balance_bound.cpp proves them).
struct BalanceBounds {
  double mean = 0;        // total / n_batches
  double top_items = 0;   // the top t items spread over s batches that also hold >= s q - t others
  double pigeonhole = 0;  // some batch holds j + 1 of the top j n_batches + 1 items
  bool integral = false;  // every cost is an integer and the total is below 2**53
  double best = 0;        // the largest part, rounded up to an integer when integral
};

// Lower bounds on the peak batch cost of any split of n items into n_batches batches of
// cardinality q = n / n_batches or q + 1 (n % n_batches of them q + 1), as balance() makes.
// O(n) for the sort (radix), then O(q + T log n_batches) for T = min(n, 2 n_batches, 2**16)
// + O(log n) spreads tried. Exact when `integral`; otherwise up to the rounding of sums.
BalanceBounds lower_bounds_balance(const double* costs, std::int64_t n, std::int64_t n_batches);

// lower_bounds_balance(...).best.
double lower_bound_balance(const double* costs, std::int64_t n, std::int64_t n_batches);

// out[b * k + d] = sum of sizes[i * k + d] over items i with bin_of_item[i] == b (n_bins * k
// values, summed in item order). bin_of_item values must lie in 0..n_bins-1.
void batch_costs(const double* sizes, std::int64_t n, std::int64_t k,
                 const std::int64_t* bin_of_item, std::int64_t n_bins, double* out);

// CSR grouping: items of bin b are items[offsets[b] .. offsets[b + 1]) in ascending item order.
// offsets has n_bins + 1 values, items n. bin_of_item values must lie in 0..n_bins-1.
void group(const std::int64_t* bin_of_item, std::int64_t n, std::int64_t n_bins,
           std::int64_t* offsets, std::int64_t* items);

}  // namespace hullpack::packing
