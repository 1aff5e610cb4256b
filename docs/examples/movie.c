/* movie.c - chapter 2: the guide's movie prediction through bpq_forward, alone and as a batch. */
#include <stdio.h>
#include <string.h>

#include <bpq.h>

/* Stops the example with the library's reason if a call fails. */
static int check(bpq_status st, const char *what)
{
    if (st != BPQ_OK)
        fprintf(stderr, "movie: %s: %s\n", what, bpq_status_string(st));
    return st == BPQ_OK;
}

int main(void)
{
    /* [one-movie] */
    /* One example with two inputs (action 8, comedy 3) and one output unit. */
    const float x[2] = {8.0f, 3.0f};
    const float w[2] = {0.7f, 0.3f}; /* W is [n_out = 1, n_in = 2] */
    const float b[1] = {-2.0f};
    float z[1], a[1];
    /* The identity activation returns z itself; the sigmoid squashes it into (0, 1). */
    if (!check(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_IDENTITY, z), "forward (identity)") ||
        !check(bpq_forward(1, 2, 1, x, w, b, BPQ_ACT_SIGMOID, a), "forward (sigmoid)"))
        return 1;
    /* [one-movie] */
    printf("one movie, one viewer\n");
    printf("  z = 8 * 0.7 + 3 * 0.3 + (-2) = %g (as stored: %.9g)\n", (double)z[0], (double)z[0]);
    printf("  a = sigmoid(z)               = %.3f (as stored: %.9g)\n", (double)a[0], (double)a[0]);

    /* [batch] */
    /* Three movies (rows of X) and two viewers (rows of W, each with its own bias):
     * A = sigmoid(X W^T + 1 b^T) is [3 movies, 2 viewers], all in one call. */
    const float movies[3 * 2] = {8, 3,  /* the movie above */
                                 1, 9,  /* a comedy */
                                 5, 5}; /* a bit of both */
    const float viewers[2 * 2] = {0.7f, 0.3f,   /* the viewer above */
                                  -0.2f, 0.5f}; /* prefers comedy */
    const float bias[2] = {-2.0f, -1.0f};
    float likes[3 * 2];
    if (!check(bpq_forward(3, 2, 2, movies, viewers, bias, BPQ_ACT_SIGMOID, likes),
               "forward (batch)"))
        return 1;
    /* [batch] */
    printf("a batch: 3 movies x 2 viewers in one call, A = sigmoid(X W^T + b)\n");
    printf("           viewer 1  viewer 2\n");
    for (int m = 0; m < 3; m++)
        printf("  movie %d   %.4f    %.4f\n", m + 1, (double)likes[m * 2],
               (double)likes[m * 2 + 1]);
    /* The batch's first entry is the single call's result, bit for bit (chapter 10). */
    printf("movie 1, viewer 1 in the batch has the bits of the single call: %s\n",
           memcmp(&likes[0], &a[0], sizeof a[0]) == 0 ? "yes" : "NO");
    return 0;
}
