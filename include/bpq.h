/* bpq.h - public C API of bpq: SIMD kernels for the four backpropagation equations. */
#ifndef BPQ_H
#define BPQ_H

/**
 * @file bpq.h
 * @brief The whole public interface of bpq.
 *
 * bpq computes the forward pass, the four backpropagation equations (BP1 to
 * BP4) and the SGD step of fully connected layers, in float32, on the best
 * instruction set the CPU offers. The functions are stateless, like BLAS:
 * there are no handles and nothing to set up.
 *
 * @par Layout
 * Every matrix is row-major and batch-first. Activations are `[batch, n]`.
 * Weights follow PyTorch's `nn.Linear`: `W` is `[n_out, n_in]`, so that
 * element `(j, i)` is `w[j * n_in + i]`.
 *
 * @par Bit-identical results
 * For the same inputs, every float implementation (#BPQ_ISA_SCALAR,
 * #BPQ_ISA_AVX2, #BPQ_ISA_AVX512, #BPQ_ISA_NEON) returns the same bits,
 * because each output element is produced by one canonical sequence of
 * IEEE-754 operations. The only exception is the payload and sign of a NaN
 * result: a NaN is produced where any implementation produces one, but its
 * bits may differ between CPU families. #BPQ_ISA_REFERENCE is different on
 * purpose: it accumulates in double and is the oracle the others are tested
 * against.
 *
 * @par Errors
 * Every function checks all of its arguments before it touches memory. On
 * an error it returns a status other than #BPQ_OK and writes nothing. It
 * never aborts and never prints.
 *
 * @par Error bounds
 * In the bounds below, `u = 2^-24` is the unit roundoff of float and
 * "ulp" is the spacing of floats at the exact result. A dot product of
 * length K with terms `p_k q_k` is within `K u sum|p_k q_k|` of the exact
 * value (fused multiply-adds in ascending k).
 *
 * @par Threads
 * Every function may be called from any number of threads at once. The
 * functions run on the calling thread only.
 *
 * @par Memory
 * The SIMD kernels of the matrix products (bpq_forward(),
 * bpq_bp2_hidden_delta(), bpq_bp4_weight_grad()) pack blocks of their
 * operands into a workspace sized from the CPU's L2 cache. Up to 48 KiB it
 * is on the calling thread's stack; a call that wants more (a large layer:
 * at most about the size of the L2, a few MiB) takes it from the heap with
 * aligned_alloc() and frees it before returning. If that allocation
 * fails, the call still succeeds, on the stack workspace with smaller
 * blocks: slower, with the same result bits. No other function allocates.
 * A thread calling bpq needs at least 128 KiB of stack (glibc's default is
 * 8 MiB). That is for an optimised build of bpq, as installed; an
 * unoptimised (-O0) debug build needs up to about 640 KiB.
 * tests/test_stack.c measures both; tests/test_blocking.c makes the heap
 * allocation fail and checks the bits.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond BPQ_INTERNAL */
#if defined(BPQ_STATIC_DEFINE)
#define BPQ_API
#elif defined(BPQ_BUILDING_LIBRARY)
#define BPQ_API __attribute__((visibility("default")))
#else
#define BPQ_API
#endif
/** @endcond */

/** Major version of the library this header belongs to. */
#define BPQ_VERSION_MAJOR 0
/** Minor version of the library this header belongs to. */
#define BPQ_VERSION_MINOR 1
/** Patch version of the library this header belongs to. */
#define BPQ_VERSION_PATCH 0

/** Result of every function that can fail. */
typedef enum bpq_status {
    BPQ_OK = 0,                  /**< Success; the outputs were written. */
    BPQ_ERR_NULL_POINTER = 1,    /**< A required pointer was NULL. */
    BPQ_ERR_ZERO_SIZE = 2,       /**< A size argument was 0. */
    BPQ_ERR_SIZE_OVERFLOW = 3,   /**< A buffer's size in bytes does not fit in `size_t`. */
    BPQ_ERR_BAD_ENUM = 4,        /**< An enumerator or flag had an unknown value. */
    BPQ_ERR_BAD_COMBINATION = 5, /**< Valid enumerators that do not go together (e.g. BCE without sigmoid). */
    BPQ_ERR_ALIAS = 6,           /**< An output overlaps an input in a way the function does not allow. */
    BPQ_ERR_BAD_VALUE = 7,       /**< A scalar argument was out of range (a learning rate that is not finite). */
    BPQ_ERR_ISA_UNAVAILABLE = 8  /**< The requested instruction set is not built in or the CPU lacks it. */
} bpq_status;

/** Activation function of a layer. The derivatives are taken from the layer's output `a`. */
typedef enum bpq_act {
    BPQ_ACT_IDENTITY = 0, /**< a = z;  a' = 1. */
    BPQ_ACT_SIGMOID = 1,  /**< a = 1 / (1 + e^-z);  a' = a (1 - a). */
    BPQ_ACT_TANH = 2,     /**< a = tanh z;  a' = 1 - a^2. */
    BPQ_ACT_RELU = 3,     /**< a = max(z, 0);  a' = [a > 0]. NaN in gives NaN out. */
    BPQ_ACT_SOFTMAX = 4   /**< a_j = e^{z_j} / sum_k e^{z_k} over a row; output layer only, with #BPQ_LOSS_XENT. */
} bpq_act;

/** Loss function of the output layer, per example. */
typedef enum bpq_loss {
    BPQ_LOSS_MSE = 0, /**< C = 1/2 sum_j (a_j - y_j)^2, with any elementwise activation. */
    BPQ_LOSS_BCE = 1, /**< C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)], with #BPQ_ACT_SIGMOID only. */
    BPQ_LOSS_XENT = 2 /**< C = -sum_j y_j ln a_j, with #BPQ_ACT_SOFTMAX only. */
} bpq_loss;

/**
 * How BP3 and BP4 reduce over the batch. Give #BPQ_REDUCE_SUM or
 * #BPQ_REDUCE_MEAN, optionally OR-ed with #BPQ_REDUCE_ACCUMULATE. (In C++
 * the OR of two enumerators is an int: cast it back to bpq_reduce.)
 */
typedef enum bpq_reduce {
    BPQ_REDUCE_SUM = 0,          /**< g = sum over the batch. */
    BPQ_REDUCE_MEAN = 1,         /**< g = (sum over the batch) / batch, one correctly rounded division. */
    BPQ_REDUCE_ACCUMULATE = 0x10 /**< Flag: out = out + g (one rounded addition) instead of out = g. */
} bpq_reduce;

/** Instruction set of an implementation. */
typedef enum bpq_isa {
    BPQ_ISA_AUTO = 0,      /**< For bpq_isa_select(): the default choice (best available, capped by `BPQ_ISA`). */
    BPQ_ISA_REFERENCE = 1, /**< Double-precision transcription of the equations: the test oracle, slow. */
    BPQ_ISA_SCALAR = 2,    /**< Portable C11 in the canonical operation order. */
    BPQ_ISA_AVX2 = 3,      /**< x86-64 AVX2 with FMA. */
    BPQ_ISA_AVX512 = 4,    /**< x86-64 AVX-512 F, DQ, BW and VL. */
    BPQ_ISA_NEON = 5       /**< AArch64 Advanced SIMD. */
} bpq_isa;

/**
 * @brief Forward pass of one layer: `A = act(X W^T + 1 b^T)`.
 *
 * `a[r, j] = act(b[j] + sum_i x[r, i] w[j, i])`. The sum starts from the
 * bias and adds the products in ascending `i` with fused multiply-adds.
 *
 * @param batch  rows of `x` and `a` (examples), at least 1.
 * @param n_in   inputs per example, at least 1.
 * @param n_out  outputs per example, at least 1.
 * @param x      `[batch, n_in]` layer input.
 * @param w      `[n_out, n_in]` weights.
 * @param b      `[n_out]` bias.
 * @param act    activation; #BPQ_ACT_SOFTMAX normalises each row of `a`.
 * @param a      `[batch, n_out]` output; must not overlap `x`, `w` or `b`.
 *
 * @par Error bound
 * Pre-activation z: `|z - z_exact| <= (n_in + 1) u (|b| + sum|x w|)`.
 * The activation then adds, for a given float z: sigmoid at most 2.5 ulp,
 * tanh at most 1.5 ulp (measured over every float in [-100, 100]: 2.40 and
 * 1.36 ulp), and softmax at most `(4 + |z_j - max_k z_k|) u` relative
 * (measured: 3.2; the `|z_j - max|` part is the rounding of that
 * difference, which every float softmax has). Identity and relu are exact.
 * No input, however large, gives inf or NaN from sigmoid, tanh or softmax;
 * only NaN (and, for softmax, +inf) inputs do. tests/test_accuracy.c
 * measures these figures.
 *
 * @return #BPQ_OK, #BPQ_ERR_NULL_POINTER, #BPQ_ERR_ZERO_SIZE,
 *         #BPQ_ERR_SIZE_OVERFLOW, #BPQ_ERR_BAD_ENUM or #BPQ_ERR_ALIAS.
 */
BPQ_API bpq_status bpq_forward(size_t batch, size_t n_in, size_t n_out, const float *x,
                               const float *w, const float *b, bpq_act act, float *a);

/**
 * @brief BP1, the output layer's error: `delta = dC/da (.) act'(z)`.
 *
 * - #BPQ_LOSS_MSE with an elementwise activation: `delta = (a - y) act'(a)`.
 * - #BPQ_LOSS_BCE with #BPQ_ACT_SIGMOID: `delta = a - y`.
 * - #BPQ_LOSS_XENT with #BPQ_ACT_SOFTMAX: `delta = a - y`.
 *
 * `delta` is the gradient of each example's own loss; reduce with
 * #BPQ_REDUCE_MEAN in BP3 and BP4 to get the gradient of the mean loss.
 *
 * When `a`, `y` and `delta` together exceed 64 MiB, the AVX2 path may
 * write `delta` with non-temporal stores, which go to memory without
 * passing through the caches (data that large would not stay cached
 * anyway). The values are the same either way.
 *
 * @param batch    rows (examples), at least 1.
 * @param n        outputs per example, at least 1.
 * @param loss     loss function.
 * @param act      the output layer's activation (see the pairs above).
 * @param a        `[batch, n]` output of the layer's forward pass.
 * @param y        `[batch, n]` targets.
 * @param delta    `[batch, n]` result. It may be exactly `a` or exactly `y`
 *                 (in place); any other overlap with them is an error.
 * @param loss_out NULL, or where to store the mean over the batch of the
 *                 per-example loss. Logarithms are clamped below at
 *                 ln(FLT_MIN) (about -87.3) so the loss stays finite.
 *                 It must not overlap `a`, `y` or `delta`.
 *
 * @par Error bound
 * `delta` is within 3 u relative of the exact value for the given `a`
 * and `y` (roundings of `a - y`, of `act'(a)` and of their product). The
 * loss is within `(n + 16) u` of the sum of the terms' magnitudes for MSE
 * (the bound the tests check); for BCE and XENT each logarithm adds at most
 * 2 ulp (measured 1.97 over every normal float).
 *
 * @return #BPQ_OK, #BPQ_ERR_NULL_POINTER, #BPQ_ERR_ZERO_SIZE,
 *         #BPQ_ERR_SIZE_OVERFLOW, #BPQ_ERR_BAD_ENUM,
 *         #BPQ_ERR_BAD_COMBINATION (MSE with softmax, BCE without sigmoid,
 *         XENT without softmax) or #BPQ_ERR_ALIAS.
 */
BPQ_API bpq_status bpq_bp1_output_delta(size_t batch, size_t n, bpq_loss loss, bpq_act act,
                                        const float *a, const float *y, float *delta,
                                        float *loss_out);

/**
 * @brief BP2, a hidden layer's error: `D = (D_next W_next) (.) act'(A)`.
 *
 * `delta[r, i] = (sum_k delta_next[r, k] w_next[k, i]) * act'(a[r, i])`,
 * the sum starting from +0 and adding products in ascending `k` with fused
 * multiply-adds.
 *
 * @param batch      rows (examples), at least 1.
 * @param n_next     units of the next layer, at least 1.
 * @param n          units of this layer, at least 1.
 * @param delta_next `[batch, n_next]` error of the next layer.
 * @param w_next     `[n_next, n]` weights of the next layer.
 * @param a          `[batch, n]` this layer's forward output.
 * @param act        this layer's activation; any but #BPQ_ACT_SOFTMAX.
 * @param delta      `[batch, n]` result. It may be exactly `a`; it must
 *                   not overlap `delta_next` or `w_next`.
 *
 * @par Error bound
 * `(n_next + 2) u sum_k |delta_next w_next| |act'(a)|`.
 *
 * @return #BPQ_OK, #BPQ_ERR_NULL_POINTER, #BPQ_ERR_ZERO_SIZE,
 *         #BPQ_ERR_SIZE_OVERFLOW, #BPQ_ERR_BAD_ENUM,
 *         #BPQ_ERR_BAD_COMBINATION (softmax) or #BPQ_ERR_ALIAS.
 */
BPQ_API bpq_status bpq_bp2_hidden_delta(size_t batch, size_t n_next, size_t n,
                                        const float *delta_next, const float *w_next,
                                        const float *a, bpq_act act, float *delta);

/**
 * @brief BP3, the bias gradient: `db = sum over the batch of delta` (or mean).
 *
 * `g[j] = sum_r delta[r, j]`, added in ascending `r` from +0; with
 * #BPQ_REDUCE_MEAN, `g[j] / batch`; with #BPQ_REDUCE_ACCUMULATE,
 * `db[j] = db[j] + g[j]`.
 *
 * @param batch rows (examples), at least 1.
 * @param n     units, at least 1.
 * @param delta `[batch, n]` the layer's error.
 * @param r     #BPQ_REDUCE_SUM or #BPQ_REDUCE_MEAN, optionally
 *              `| BPQ_REDUCE_ACCUMULATE`.
 * @param db    `[n]` result; must not overlap `delta`.
 *
 * @par Error bound
 * `(batch + 2) u sum_r |delta[r, j]|` relative to the exact sum.
 *
 * @return #BPQ_OK, #BPQ_ERR_NULL_POINTER, #BPQ_ERR_ZERO_SIZE,
 *         #BPQ_ERR_SIZE_OVERFLOW, #BPQ_ERR_BAD_ENUM or #BPQ_ERR_ALIAS.
 */
BPQ_API bpq_status bpq_bp3_bias_grad(size_t batch, size_t n, const float *delta, bpq_reduce r,
                                     float *db);

/**
 * @brief BP4, the weight gradient: `dW = D^T X` (or divided by batch).
 *
 * `g[j, i] = sum_r delta[r, j] x[r, i]`, from +0 with fused multiply-adds in
 * ascending `r`; reduction and accumulation as in bpq_bp3_bias_grad().
 *
 * @param batch rows (examples), at least 1.
 * @param n_out units of the layer (rows of `dw`), at least 1.
 * @param n_in  inputs of the layer (columns of `dw`), at least 1.
 * @param delta `[batch, n_out]` the layer's error.
 * @param x     `[batch, n_in]` the layer's input (previous activation).
 * @param r     reduction, as in bpq_bp3_bias_grad().
 * @param dw    `[n_out, n_in]` result; must not overlap `delta` or `x`.
 *
 * @par Error bound
 * `(batch + 2) u sum_r |delta[r, j] x[r, i]|`.
 *
 * @return #BPQ_OK, #BPQ_ERR_NULL_POINTER, #BPQ_ERR_ZERO_SIZE,
 *         #BPQ_ERR_SIZE_OVERFLOW, #BPQ_ERR_BAD_ENUM or #BPQ_ERR_ALIAS.
 */
BPQ_API bpq_status bpq_bp4_weight_grad(size_t batch, size_t n_out, size_t n_in,
                                       const float *delta, const float *x, bpq_reduce r,
                                       float *dw);

/**
 * @brief Plain SGD step: `param[i] = param[i] - lr * grad[i]`.
 *
 * Computed as one fused multiply-add, `fma(-lr, grad, param)`.
 *
 * @param n     elements, at least 1.
 * @param lr    learning rate; must be finite (it may be 0 or negative).
 * @param grad  `[n]` gradient.
 * @param param `[n]` parameters, updated in place. It may be exactly
 *              `grad`; any other overlap is an error.
 *
 * @par Error bound
 * Correctly rounded (one rounding).
 *
 * @return #BPQ_OK, #BPQ_ERR_NULL_POINTER, #BPQ_ERR_ZERO_SIZE,
 *         #BPQ_ERR_SIZE_OVERFLOW, #BPQ_ERR_BAD_VALUE or #BPQ_ERR_ALIAS.
 */
BPQ_API bpq_status bpq_sgd_step(size_t n, float lr, const float *grad, float *param);

/**
 * @brief The implementation the calls use now.
 *
 * The first call that needs an implementation picks it, once, and
 * thread-safely: the
 * best one the build and the CPU support, capped by the environment
 * variable `BPQ_ISA` (`reference`, `scalar`, `avx2`, `avx512`, `neon` or
 * `auto`; a name the CPU or build lacks falls back to the best one below
 * it, and an unknown name means `auto`). Setting `BPQ_ISA_DEBUG=1` prints
 * the choice on stderr once; nothing else is ever printed.
 *
 * @return never #BPQ_ISA_AUTO.
 */
BPQ_API bpq_isa bpq_isa_active(void);

/**
 * @brief Lower-case name of an ISA.
 * @param isa any value.
 * @return "auto", "reference", "scalar", "avx2", "avx512" or "neon", or
 *         "unknown" for any other value; never NULL (a static string).
 */
BPQ_API const char *bpq_isa_name(bpq_isa isa);

/**
 * @brief Whether the build and this CPU can run an implementation.
 * @param isa the implementation asked about.
 * @return 1 if bpq_isa_select(isa) would succeed, else 0.
 *         #BPQ_ISA_AUTO, #BPQ_ISA_REFERENCE and #BPQ_ISA_SCALAR always give 1.
 */
BPQ_API int bpq_isa_supported(bpq_isa isa);

/**
 * @brief Make `isa` the implementation for every later call, in all threads.
 *
 * An explicit choice is honoured whenever it is supported, whatever
 * `BPQ_ISA` says; #BPQ_ISA_AUTO restores the default choice described at
 * bpq_isa_active(). Calls already running finish on the implementation
 * they started with.
 *
 * @param isa the implementation to use, or #BPQ_ISA_AUTO.
 * @return #BPQ_OK, #BPQ_ERR_BAD_ENUM for an unknown value, or
 *         #BPQ_ERR_ISA_UNAVAILABLE (the active ISA is then unchanged).
 */
BPQ_API bpq_status bpq_isa_select(bpq_isa isa);

/**
 * @brief A short English description of a status.
 * @param status any value, known or not.
 * @return a static string, never NULL.
 */
BPQ_API const char *bpq_status_string(bpq_status status);

/**
 * @brief The library's version.
 * @return "MAJOR.MINOR.PATCH" of the library linked, a static string (the
 *         header's own version is #BPQ_VERSION_MAJOR, #BPQ_VERSION_MINOR and
 *         #BPQ_VERSION_PATCH).
 */
BPQ_API const char *bpq_version(void);

#ifdef __cplusplus
}
#endif

#endif /* BPQ_H */
