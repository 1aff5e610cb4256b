/* vanishing.c - chapter 9: per-layer gradient norms of deep sigmoid, tanh and relu networks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpq.h>

/* Ten layers of 64 units, the last a softmax over 10 classes, one batch of 32. */
enum { DEPTH = 10, WIDTH = 64, CLASSES = 10, BATCH = 32, N_ACTS = 3 };

static const bpq_act ACTS[N_ACTS] = {BPQ_ACT_SIGMOID, BPQ_ACT_TANH, BPQ_ACT_RELU};
static const char *const NAMES[N_ACTS] = {"sigmoid", "tanh", "relu"};

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s, float r)
{
    return ((float)(next(s) >> 40) * 0x1p-23f - 1.0f) * r;
}

static size_t fan_out(int l) { return l == DEPTH - 1 ? CLASSES : WIDTH; }

/* Weights, activations and errors of one network; layer l maps WIDTH inputs to fan_out(l). */
typedef struct net {
    float w[DEPTH][WIDTH * WIDTH], b[DEPTH][WIDTH];
    float a[DEPTH + 1][BATCH * WIDTH]; /* a[0] is the input */
    float d[DEPTH][BATCH * WIDTH], dw[WIDTH * WIDTH];
} net;

/* [norms] */
/* One forward and backward pass; norm[l] = ||dC/dW_l|| (Frobenius, mean over the batch). */
static int gradient_norms(net *n, bpq_act act, const float *y, double *norm)
{
    for (int l = 0; l < DEPTH; l++) {
        bpq_act f = l == DEPTH - 1 ? BPQ_ACT_SOFTMAX : act;
        if (bpq_forward(BATCH, WIDTH, fan_out(l), n->a[l], n->w[l], n->b[l], f, n->a[l + 1]))
            return 0;
    }
    if (bpq_bp1_output_delta(BATCH, CLASSES, BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, n->a[DEPTH], y,
                             n->d[DEPTH - 1], NULL))
        return 0;
    for (int l = DEPTH - 1; l >= 0; l--) {
        if (l < DEPTH - 1 && bpq_bp2_hidden_delta(BATCH, fan_out(l + 1), WIDTH, n->d[l + 1],
                                                  n->w[l + 1], n->a[l + 1], act, n->d[l]))
            return 0;
        if (bpq_bp4_weight_grad(BATCH, fan_out(l), WIDTH, n->d[l], n->a[l], BPQ_REDUCE_MEAN, n->dw))
            return 0;
        double s = 0;
        for (size_t k = 0; k < fan_out(l) * WIDTH; k++)
            s += (double)n->dw[k] * (double)n->dw[k];
        norm[l] = sqrt(s);
    }
    return 1;
}
/* [norms] */

/* Writes the table as a plot: log10 of each norm against the layer, one line per activation. */
static int write_svg(const char *path, double norm[N_ACTS][DEPTH])
{
    static const char *const colour[N_ACTS] = {"#d62728", "#ff7f0e", "#1f77b4"};
    const double left = 80, top = 30, w = 520, h = 300, lo = -7, hi = 1; /* log10 range */
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"400\" "
               "font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"720\" height=\"400\" "
               "fill=\"white\"/>\n");
    for (int e = (int)lo; e <= (int)hi; e++) { /* horizontal grid, powers of ten */
        double py = top + h * (hi - e) / (hi - lo);
        fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", left, py,
                left + w, py);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">1e%d</text>\n", left - 6,
                py + 4, e);
    }
    for (int l = 0; l < DEPTH; l++) {
        double px = left + w * l / (DEPTH - 1);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", px, top + h + 18,
                l + 1);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\""
               " stroke=\"#444\"/>\n", left, top, w, h);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">layer (1 = next to the input, "
               "%d = output)</text>\n", left + w / 2, top + h + 40, DEPTH);
    fprintf(f, "<text transform=\"translate(18 %g) rotate(-90)\" text-anchor=\"middle\">"
               "gradient norm ||dC/dW|| (log scale)</text>\n", top + h / 2);
    for (int k = 0; k < N_ACTS; k++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"",
                colour[k]);
        for (int l = 0; l < DEPTH; l++) {
            double v = log10(norm[k][l]);
            v = v < lo ? lo : v;
            fprintf(f, "%.1f,%.1f ", left + w * l / (DEPTH - 1), top + h * (hi - v) / (hi - lo));
        }
        fprintf(f, "\"/>\n<text x=\"%g\" y=\"%g\" fill=\"%s\">%s</text>\n", left + w + 12,
                top + 20 + 20 * k, colour[k], NAMES[k]);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}

int main(int argc, char **argv)
{
    static net n;
    static float y[BATCH * CLASSES];
    double norm[N_ACTS][DEPTH];
    for (int k = 0; k < N_ACTS; k++) {
        /* The same inputs and labels for every network; each gets the weight scale that
         * suits its activation: Glorot's uniform +-sqrt(6 / (in + out)) for sigmoid and
         * tanh, He's +-sqrt(6 / in) for relu. */
        uint64_t s = 42;
        for (size_t i = 0; i < BATCH * WIDTH; i++)
            n.a[0][i] = uniform(&s, 1.0f);
        memset(y, 0, sizeof y);
        for (size_t r = 0; r < BATCH; r++)
            y[r * CLASSES + next(&s) % CLASSES] = 1.0f;
        for (int l = 0; l < DEPTH; l++) {
            float out = (float)fan_out(l);
            float r = ACTS[k] == BPQ_ACT_RELU ? sqrtf(6.0f / WIDTH) : sqrtf(6.0f / (WIDTH + out));
            for (size_t i = 0; i < fan_out(l) * WIDTH; i++)
                n.w[l][i] = uniform(&s, r);
            memset(n.b[l], 0, sizeof n.b[l]);
        }
        if (!gradient_norms(&n, ACTS[k], y, norm[k])) {
            fprintf(stderr, "vanishing: a bpq call failed\n");
            return 1;
        }
    }
    /* With --svg FILE: the plot instead of the table (the docs target draws chapter 9's). */
    if (argc > 2 && strcmp(argv[1], "--svg") == 0) {
        if (write_svg(argv[2], norm))
            return 0;
        fprintf(stderr, "vanishing: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("||dC/dW|| per layer, %d layers of %d units, softmax output, batch %d\n", DEPTH, WIDTH,
           BATCH);
    printf("layer     sigmoid        tanh        relu\n");
    for (int l = 0; l < DEPTH; l++)
        printf("%5d  %10.3e  %10.3e  %10.3e\n", l + 1, norm[0][l], norm[1][l], norm[2][l]);
    printf("layer 1 / layer %d: %9.1e  %10.1e  %10.1e\n", DEPTH, norm[0][0] / norm[0][DEPTH - 1],
           norm[1][0] / norm[1][DEPTH - 1], norm[2][0] / norm[2][DEPTH - 1]);
    return 0;
}
