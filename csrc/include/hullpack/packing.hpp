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
#include <vector>

namespace hullpack::packing {

enum class Method {
  first_fit,  // first-fit-decreasing: the lowest-numbered bin with room
  best_fit,   // best-fit-decreasing: the fullest bin with room (ties: the lowest-numbered)
};

// The sort key of each item: its size when k == 1, else max_d sizes[i, d] / capacity[d].
void packing_keys(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                  double* keys);

// The keys of the placement sequence: `keys` when given, else the sizes (k == 1) or packing_keys
// written to `store` (k > 1).
const double* placement_keys(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                             const double* keys, std::vector<double>& store);

// Packs items, in the placement sequence of packing_keys, into bins of `capacity` (k values). An item
// fits a bin when load[d] + size[d] <= capacity[d] for every d. First fit takes the lowest-numbered
// bin that fits; best fit the bin with the largest load (k == 1) or the largest sum_d
// load[d] / capacity[d] (k > 1) among those that fit, ties to the lowest number. A new bin is opened
// only when none fits, so bins are numbered in opening order and none is empty. Writes
// bin_of_item (n) and returns the number of bins. k == 1 takes O(n log n). k > 1 takes
// O(n k log bins): the search for the bin is bounded (a pool of visits, see packing.cpp), and an
// item whose search runs out of visits goes to a recent bin or a bin that surely fits, if any fits,
// else to a new bin; until the pool runs dry the result is exact first/best fit. `keys` (n values,
// optional) replaces packing_keys in the placement sequence, e.g. sizes rounded to a grid so that
// near-equal items tie and `order` decides among them; capacities are still checked on `sizes`.
std::int64_t pack(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                  const std::int64_t* order, Method method, std::int64_t* bin_of_item,
                  const double* keys = nullptr);

// Best-fit-decreasing over histograms (pack_hist.cpp), for one dimension of integer sizes: items of
// equal size are taken in `order` (identity when null), bins are numbered in opening order and
// none is empty, every bin's total is <= capacity. The loads evolve as item-by-item best fit's, so
// the bin count equals pack(..., best_fit)'s; an item may join another of several equally full
// bins. O(n + S + bins) for sizes up to S. Returns the number of bins, or -1 (writing nothing)
// where it does not apply: a size that is not an integer in 0..floor(capacity) (the caller tells an
// oversize item from a fraction), floor(capacity) above 2^20, or n >= 2^32.
std::int64_t pack_histogram(const double* sizes, std::int64_t n, double capacity, const std::int64_t* order,
                            std::int64_t* bin_of_item);

// Spreads items over n_bins bins (pack_spread.cpp): in the placement sequence of packing_keys, each
// item goes to whichever of the least-loaded bins along a few directions of the load space (the
// axes and points between them; a bin too full for an item ranks after the others in that
// direction from then on) it fits has normalised loads of the least dot product with its
// normalised costs (ties to the lowest number); an item that fits none of those bins is set aside,
// and the items set aside are then placed by first_fit_rest. Every bin stays within the capacity.
// Writes bin_of_item, the number of items set aside (*set_aside) and the largest fullest normalised
// load any item's chosen bin (or, set aside, the candidate it overflowed least) would have had
// (*peak: above 1 where items were set aside among open bins); returns the number of bins, n_bins
// plus those opened for items set aside. O(n D (k + log n_bins)) for D <= max(6, k) directions. Some
// bins may be left empty when there are few items. `keys`: as pack's.
std::int64_t spread(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                    std::int64_t n_bins, const std::int64_t* order, std::int64_t* bin_of_item, double* peak,
                    std::int64_t* set_aside, const double* keys = nullptr);

// First fit (as pack's, k >= 1, with its bounded search) of the items whose bin_of_item is -1, in
// the placement sequence of packing_keys, into bins 0..n_bins-1 (n_bins >= 1), which hold the other
// items and keep them, then into new bins. Returns the number of bins. `keys`: as pack's.
std::int64_t first_fit_rest(const double* sizes, std::int64_t n, std::int64_t k, const double* capacity,
                            const std::int64_t* order, std::int64_t n_bins, std::int64_t* bin_of_item,
                            const double* keys = nullptr);

// ---- batch cost shapes (pack_runs.cpp) ------------------------------------------------------

// The cost of a batch of m items whose longest has length L, with lengths summing to S1 and their
// squares to S2: constant + count * m + m * (padded * L + padded_square * L * L) + sum * S1 +
// square * S2. Every term must be finite and >= 0.
struct CostTerms {
  double sum = 0.0, padded = 0.0, square = 0.0, padded_square = 0.0, count = 0.0, constant = 0.0;
};
double run_cost(const CostTerms& terms, double m, double longest, double s1, double s2);

// Sorted runs: items by decreasing length (ties in `order`), cut greedily into the longest runs
// of cost <= capacity. Optimal in the number of batches for the padded family (sum = square = 0),
// optimal among partitions into runs of the length order otherwise (proofs in pack_runs.cpp).
// Writes bin_of_item (runs numbered longest first) and, if given, the cost of every run (as the
// greedy computed it); returns the number of runs. Throws std::invalid_argument naming an item
// that costs more than the capacity alone. `keys` (n values, optional) order the items in place of
// their lengths (e.g. lengths rounded to a grid, so near-equal ones tie and `order` decides); runs
// are still priced on the lengths, by their longest item wherever it lies (the optimality above
// holds for the length order only).
std::int64_t pack_runs(const double* lengths, std::int64_t n, const CostTerms& terms, double capacity,
                       const std::int64_t* order, std::int64_t* bin_of_item, std::vector<double>* run_costs,
                       const double* keys = nullptr);

// Sorts by decreasing key (ties in `order`) and cuts into n_batches (1..n) runs of n / n_batches
// items, the last n % n_batches runs one more: the shorter runs hold the longest items, which
// minimises the peak of any padded-family cost, and its total when n_batches divides n
// (pack_runs.cpp).
void cut_sorted(const double* keys, std::int64_t n, std::int64_t n_batches, const std::int64_t* order,
                std::int64_t* bin_of_item);

// out[b] = run_cost of the items with bin_of_item == b (0 for an empty bin); lengths summed in item
// order. bin_of_item values must lie in 0..n_bins-1.
void run_costs(const double* lengths, std::int64_t n, const std::int64_t* bin_of_item, std::int64_t n_bins,
               const CostTerms& terms, double* out);

// A lower bound on the number of batches of cost <= capacity any partition needs: the larger of
// the volume bound (each item costs at least what it would as its batch's longest) and the exact
// optimum without the sum and square terms. Needs every item to fit alone.
double lower_bound_runs(const double* lengths, std::int64_t n, const CostTerms& terms, double capacity);

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

// A lower bound on the number of bins any packing needs: the largest over dimensions of Martello
// and Toth's L2 bound (which is at least ceil(total_d / capacity_d) and the number of items above
// half the capacity, no two of which share a bin).
double lower_bound_pack(const double* sizes, std::int64_t n, std::int64_t k,
                        const double* capacity);

// The parts of lower_bound_balance, each a lower bound on its own (balance_bound.cpp proves them).
struct BalanceBounds {
  double mean = 0;        // total / n_batches
  double top_items = 0;   // the top t items spread over s batches that also hold >= s q - t others
  double pigeonhole = 0;  // some batch holds j + 1 of the top j n_batches + 1 items
  double light_batches = 0;  // batches with few of the top t items cannot carry the total
  double exclusion = 0;      // the top m items, one to a batch, keep the next largest out of theirs
  double full_batches = 0;   // the r batches of q + 1 items with those holding the top t items
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
