/* digits.c - chapter 8: the training loop end to end, a 64-32-10 network on the UCI digits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpq.h>

enum { ROWS = 1797, N_IN = 64, N_HID = 32, N_OUT = 10, BATCH = 32, EPOCHS = 20 };
static const float LEARNING_RATE = 1.0f;

/* splitmix64: the same stream of numbers on every machine. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [-r, r), from 24 random bits. */
static float uniform(uint64_t *s, float r)
{
    return ((float)(next(s) >> 40) * 0x1p-23f - 1.0f) * r;
}

/* Reads "p0,...,p63,label" lines: pixels 0..16 scaled to [0, 1]. */
static int load(const char *path, float *x, int *label)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int rows = 0;
    for (; rows < ROWS; rows++) {
        for (int c = 0; c < N_IN; c++) {
            int v;
            if (fscanf(f, "%d,", &v) != 1)
                break;
            x[rows * N_IN + c] = (float)v / 16.0f;
        }
        if (fscanf(f, "%d", &label[rows]) != 1)
            break;
    }
    fclose(f);
    return rows == ROWS;
}

static int argmax(const float *v)
{
    int best = 0;
    for (int j = 1; j < N_OUT; j++)
        best = v[j] > v[best] ? j : best;
    return best;
}

/* [model] */
typedef struct model {
    float w1[N_HID * N_IN], b1[N_HID];   /* hidden layer, sigmoid */
    float w2[N_OUT * N_HID], b2[N_OUT];  /* output layer, softmax */
} model;

/* Activations, errors and gradients of one mini-batch. */
typedef struct batch {
    float x[BATCH * N_IN], y[BATCH * N_OUT], h[BATCH * N_HID], out[BATCH * N_OUT];
    float d_out[BATCH * N_OUT], d_hid[BATCH * N_HID];
    float gw1[N_HID * N_IN], gb1[N_HID], gw2[N_OUT * N_HID], gb2[N_OUT];
} batch;
/* [model] */

/* [step] */
/* One step of gradient descent on the m examples in t: forward, BP1-BP4, update.
 * Returns the batch's mean loss (or -1 if a call failed). */
static float train_step(model *n, batch *t, size_t m)
{
    float loss;
    int ok =
        /* forward, layer by layer */
        bpq_forward(m, N_IN, N_HID, t->x, n->w1, n->b1, BPQ_ACT_SIGMOID, t->h) == BPQ_OK &&
        bpq_forward(m, N_HID, N_OUT, t->h, n->w2, n->b2, BPQ_ACT_SOFTMAX, t->out) == BPQ_OK &&
        /* BP1 at the output; BP2 back through w2, before w2 changes */
        bpq_bp1_output_delta(m, N_OUT, BPQ_LOSS_XENT, BPQ_ACT_SOFTMAX, t->out, t->y, t->d_out,
                             &loss) == BPQ_OK &&
        bpq_bp2_hidden_delta(m, N_OUT, N_HID, t->d_out, n->w2, t->h, BPQ_ACT_SIGMOID,
                             t->d_hid) == BPQ_OK &&
        /* BP3 and BP4 for both layers, averaged over the batch */
        bpq_bp3_bias_grad(m, N_OUT, t->d_out, BPQ_REDUCE_MEAN, t->gb2) == BPQ_OK &&
        bpq_bp4_weight_grad(m, N_OUT, N_HID, t->d_out, t->h, BPQ_REDUCE_MEAN, t->gw2) == BPQ_OK &&
        bpq_bp3_bias_grad(m, N_HID, t->d_hid, BPQ_REDUCE_MEAN, t->gb1) == BPQ_OK &&
        bpq_bp4_weight_grad(m, N_HID, N_IN, t->d_hid, t->x, BPQ_REDUCE_MEAN, t->gw1) == BPQ_OK &&
        /* the update: every parameter against its gradient */
        bpq_sgd_step(N_HID * N_IN, LEARNING_RATE, t->gw1, n->w1) == BPQ_OK &&
        bpq_sgd_step(N_HID, LEARNING_RATE, t->gb1, n->b1) == BPQ_OK &&
        bpq_sgd_step(N_OUT * N_HID, LEARNING_RATE, t->gw2, n->w2) == BPQ_OK &&
        bpq_sgd_step(N_OUT, LEARNING_RATE, t->gb2, n->b2) == BPQ_OK;
    return ok ? loss : -1.0f;
}
/* [step] */

int main(int argc, char **argv)
{
    static float x[ROWS * N_IN];
    static int label[ROWS];
    static model net;
    static batch t;
    static size_t train[ROWS], test[ROWS];
    size_t n_train = 0, n_test = 0;
    uint64_t seed = 2024;

    if (argc < 2 || !load(argv[1], x, label)) {
        fprintf(stderr, "usage: digits bench/data/digits.csv (1797 rows: 64 pixels, a label)\n");
        return 1;
    }
    /* Every fifth image is kept for testing, never trained on. */
    for (size_t r = 0; r < ROWS; r++) {
        if (r % 5 == 4)
            test[n_test++] = r;
        else
            train[n_train++] = r;
    }
    /* Small random weights (uniform in +-1/sqrt(fan-in)), zero biases. */
    for (size_t i = 0; i < N_HID * N_IN; i++)
        net.w1[i] = uniform(&seed, 0.125f); /* 1/sqrt(64) */
    for (size_t i = 0; i < N_OUT * N_HID; i++)
        net.w2[i] = uniform(&seed, 0.1767767f); /* 1/sqrt(32) */

    printf("64 -> 32 sigmoid -> 10 softmax, cross-entropy, batch %d, learning rate %g\n", BATCH,
           (double)LEARNING_RATE);
    printf("%zu training images, %zu test images\n", n_train, n_test);
    /* [epochs] */
    for (int epoch = 1; epoch <= EPOCHS; epoch++) {
        /* A new order of the training images each epoch (Fisher-Yates). */
        for (size_t i = n_train - 1; i > 0; i--) {
            size_t j = (size_t)(next(&seed) % (i + 1)), tmp = train[i];
            train[i] = train[j];
            train[j] = tmp;
        }
        double loss_sum = 0;
        size_t right = 0;
        for (size_t at = 0; at < n_train; at += BATCH) {
            size_t m = n_train - at < BATCH ? n_train - at : BATCH; /* the last batch is short */
            memset(t.y, 0, sizeof t.y);
            for (size_t r = 0; r < m; r++) {
                memcpy(&t.x[r * N_IN], &x[train[at + r] * N_IN], sizeof(float) * N_IN);
                t.y[r * N_OUT + label[train[at + r]]] = 1.0f; /* one-hot target */
            }
            float loss = train_step(&net, &t, m);
            if (loss < 0)
                return 1;
            loss_sum += (double)loss * (double)m;
            for (size_t r = 0; r < m; r++)
                right += argmax(&t.out[r * N_OUT]) == label[train[at + r]];
        }
        printf("epoch %2d  mean loss %.4f  right while training %5.1f%%\n", epoch,
               loss_sum / (double)n_train, 100.0 * (double)right / (double)n_train);
    }
    /* [epochs] */

    /* Test: the forward pass alone, one test image at a time. */
    size_t right = 0;
    for (size_t k = 0; k < n_test; k++) {
        float h[N_HID], out[N_OUT];
        if (bpq_forward(1, N_IN, N_HID, &x[test[k] * N_IN], net.w1, net.b1, BPQ_ACT_SIGMOID, h) ||
            bpq_forward(1, N_HID, N_OUT, h, net.w2, net.b2, BPQ_ACT_SOFTMAX, out))
            return 1;
        right += argmax(out) == label[test[k]];
    }
    printf("test images recognised: %zu of %zu (%.1f%%)\n", right, n_test,
           100.0 * (double)right / (double)n_test);
    return 0;
}
