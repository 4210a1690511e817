"""The shared-LSTM tweet-pair classifier of the Keras functional-API guide ("共享层"), trained.

Seed 003 (Keras 2 guide: ``keras.layers.concatenate``, ``Model(inputs=, outputs=)``, ``epochs=10``,
tweets of (140, 256)), seed 001 (the same listing with tweets of (280, 256)) and seed 000 (Keras 1
guide: ``merge(mode='concat', concat_axis=-1)``, ``Model(input=, output=)``, ``nb_epoch=10``, (140,
256)). Two tweets, each a (140, 256) one-hot matrix of characters, go through one shared ``LSTM(64)``;
the two encodings are concatenated and a ``Dense(1, sigmoid)`` gives a probability. Each listing
below is the seed's code verbatim, only the import lines changed (``keras`` -> ``irgraph``).

Data (the seeds leave ``data_a``, ``data_b`` and ``labels`` undefined), made by ``make_data`` and kept
apart from the listings: tweets of 140 characters (one-hot over the 256 extended-ASCII codes) written
by two users, one who shouts (about 90% of the letters in capitals) and one who does not (about 10%);
each pair holds one tweet of each, in random order, and the label is 1 when ``tweet_a`` is the
shouter's. The seed's own question ("are the two tweets by the same person?") cannot be learnt by
this architecture: a logistic regression on the concatenation ``[f(a), f(b)]`` computes
``p(a) + q(b) + c``, and "same" would need ``p(A) + q(A)`` and ``p(B) + q(B)`` above a threshold that
``p(A) + q(B)`` and ``p(B) + q(A)`` stay below, which sum to the same total. "Which of the two is the
shouter's" is a function of the two encodings that it can learn. 128 pairs by default (4 batches of
32 per epoch, 10 epochs as in the seed).

    python examples/seed_training/tweet_pairs.py            # seed 003 (Keras 2, (140, 256))
    python examples/seed_training/tweet_pairs.py keras2_280 # seed 001 (Keras 2, (280, 256))
    python examples/seed_training/tweet_pairs.py keras1     # seed 000 (Keras 1, (140, 256))
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

NUM_PAIRS = 128


# ============================================================================= data (not in the seed)
def make_tweet(rng, shout_rate, length):
    """One ``(length, 256)`` one-hot tweet: lowercase words and spaces, letters capitalised with
    probability ``shout_rate``."""
    chars = rng.integers(ord("a"), ord("z") + 1, length)
    spaces = rng.random(length) < 0.18
    chars[spaces] = ord(" ")
    chars[(rng.random(length) < shout_rate) & ~spaces] -= 32  # upper case
    x = np.zeros((length, 256), np.float32)
    x[np.arange(length), chars] = 1.0
    return x


def make_data(num_pairs=NUM_PAIRS, length=140, seed=0):
    """``data_a``, ``data_b`` ((n, length, 256) float32) and ``labels`` ((n, 1) float32): 1 where
    ``data_a`` holds the shouting user's tweet, ``data_b`` then holding the other user's."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, num_pairs)
    rate = {1: 0.9, 0: 0.1}
    data_a = np.stack([make_tweet(rng, rate[int(y)], length) for y in labels])
    data_b = np.stack([make_tweet(rng, rate[1 - int(y)], length) for y in labels])
    return data_a, data_b, labels.astype(np.float32)[:, None]


# ============================================================================= seed 003 (Keras 2)
def seed_003(data_a, data_b, labels):
    import irgraph as keras
    from irgraph.layers import Input, LSTM, Dense
    from irgraph.models import Model

    tweet_a = Input(shape=(140, 256))
    tweet_b = Input(shape=(140, 256))

    # This layer can take as input a matrix
    # and will return a vector of size 64
    shared_lstm = LSTM(64)

    # When we reuse the same layer instance
    # multiple times, the weights of the layer
    # are also being reused
    # (it is effectively *the same* layer)
    encoded_a = shared_lstm(tweet_a)
    encoded_b = shared_lstm(tweet_b)

    # We can then concatenate the two vectors:
    merged_vector = keras.layers.concatenate([encoded_a, encoded_b], axis=-1)

    # And add a logistic regression on top
    predictions = Dense(1, activation='sigmoid')(merged_vector)

    # We define a trainable model linking the
    # tweet inputs to the predictions
    model = Model(inputs=[tweet_a, tweet_b], outputs=predictions)

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    model.fit([data_a, data_b], labels, epochs=10)
    return SimpleNamespace(model=model, shared_lstm=shared_lstm, history=model.history)


# ============================================================================= seed 001 (Keras 2, 280 characters)
def seed_001(data_a, data_b, labels):
    import irgraph as keras
    from irgraph.layers import Input, LSTM, Dense
    from irgraph.models import Model

    tweet_a = Input(shape=(280, 256))
    tweet_b = Input(shape=(280, 256))

    # 这一层可以输入一个矩阵，并返回一个 64 维的向量
    shared_lstm = LSTM(64)

    # 当我们重用相同的图层实例多次，图层的权重也会被重用 (它其实就是同一层)
    encoded_a = shared_lstm(tweet_a)
    encoded_b = shared_lstm(tweet_b)

    # 然后再连接两个向量：
    merged_vector = keras.layers.concatenate([encoded_a, encoded_b], axis=-1)

    # 再在上面添加一个逻辑回归层
    predictions = Dense(1, activation='sigmoid')(merged_vector)

    # 定义一个连接推特输入和预测的可训练的模型
    model = Model(inputs=[tweet_a, tweet_b], outputs=predictions)

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    model.fit([data_a, data_b], labels, epochs=10)
    return SimpleNamespace(model=model, shared_lstm=shared_lstm, history=model.history)


# ============================================================================= seed 000 (Keras 1)
def seed_000(data_a, data_b, labels):
    from irgraph.layers import Input, LSTM, Dense, merge
    from irgraph.models import Model

    tweet_a = Input(shape=(140, 256))
    tweet_b = Input(shape=(140, 256))

    # this layer can take as input a matrix
    # and will return a vector of size 64
    shared_lstm = LSTM(64)

    # when we reuse the same layer instance
    # multiple times, the weights of the layer
    # are also being reused
    # (it is effectively *the same* layer)
    encoded_a = shared_lstm(tweet_a)
    encoded_b = shared_lstm(tweet_b)

    # we can then concatenate the two vectors:
    merged_vector = merge([encoded_a, encoded_b], mode='concat', concat_axis=-1)

    # and add a logistic regression on top
    predictions = Dense(1, activation='sigmoid')(merged_vector)

    # we define a trainable model linking the
    # tweet inputs to the predictions
    model = Model(input=[tweet_a, tweet_b], output=predictions)

    model.compile(optimizer='rmsprop',
                  loss='binary_crossentropy',
                  metrics=['accuracy'])
    model.fit([data_a, data_b], labels, nb_epoch=10)
    return SimpleNamespace(model=model, shared_lstm=shared_lstm, history=model.history)


LISTINGS = {"keras2": ("seed 003, Keras 2 listing, (140, 256) tweets", seed_003, 140),
            "keras2_280": ("seed 001, Keras 2 listing, (280, 256) tweets", seed_001, 280),
            "keras1": ("seed 000, Keras 1 listing, (140, 256) tweets", seed_000, 140)}


def main(variant="keras2", num_pairs=NUM_PAIRS, seed=0):
    """Make the tweet pairs, run the listing, print what it achieved; returns the listing's namespace."""
    import irgraph
    irgraph.set_seed(seed)
    what, listing, length = LISTINGS[variant]
    data_a, data_b, labels = make_data(num_pairs, length, seed)
    ns = listing(data_a, data_b, labels)
    h = ns.history.history
    print("loss per epoch: " + " ".join(f"{v:.3f}" for v in h["loss"]))
    print("accuracy per epoch: " + " ".join(f"{v:.3f}" for v in h["accuracy"]))
    ns.what = what
    ns.summary = (f"tweet pairs ({what}): loss {h['loss'][0]:.3f} -> {h['loss'][-1]:.3f}, accuracy "
                  f"{h['accuracy'][0]:.1%} -> {h['accuracy'][-1]:.1%} in 10 epochs on {num_pairs} generated pairs")
    return ns


if __name__ == "__main__":
    print(main(*sys.argv[1:2]).summary)
