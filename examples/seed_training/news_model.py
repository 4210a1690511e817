"""The two-input, two-output news model of the Keras functional-API guide, trained.

Seeds 001 and 003 (the Keras 2 guide, "多输入多输出模型"; the two listings' code is identical, 001's
comments are in Chinese, 003's, used here, in English) and seed 000
(the Keras 1 guide, "多输入和多输出模型": ``merge(mode='concat')``, ``Model(input=, output=)``,
``nb_epoch=50``). The headline (100 word ids between 1 and 10000) goes through
``Embedding(10000 -> 512)`` and ``LSTM(32)``; an auxiliary output reads the LSTM alone; the main output
reads the LSTM concatenated with a 5-wide auxiliary input, through three ``Dense(64, relu)``. The seed
compiles it with ``loss_weights=[1., 0.2]`` and fits it for 50 epochs with lists, then compiles it again
with dicts keyed by layer name and fits it for 50 more epochs with dicts.

Below, each listing is the seed's code verbatim, only the import lines changed (``keras`` ->
``irgraph``), with two lines added and marked "added" (the first fit's history and weights are kept so
that the list-form and the dict-form fits can be told apart afterwards). Seed 001's listing calls
``keras.layers.concatenate`` without importing ``keras`` in that block (its next block does): the
import is written at the top of the block.

Data (the seeds leave ``headline_data``, ``additional_data`` and ``labels`` undefined), made by
``make_data`` and kept apart from the listings: headlines of 100 ids drawn from 120 words of the
1..9999 range; 40 of them are "popular" words, 40 "unpopular", 40 neutral. A headline's label (1: it
got many retweets) decides which of the two pools about 30% of its words come from, the rest being
neutral, so the LSTM can learn the label from the headline (what the auxiliary output sees); the
additional data (publication time and the like) is 5 standard-normal features of which the first is
shifted by +-0.5 with the label: weakly informative. 32 headlines by default (one batch of 32 per
epoch, 2 x 50 epochs: 100 steps) so that it trains in CI; the model and the fits keep the seed's sizes
(10,000 x 512 embedding, 100 words, LSTM(32), batch 32).

    python examples/seed_training/news_model.py            # Keras 2 listing (seeds 001, 003)
    python examples/seed_training/news_model.py keras1     # Keras 1 listing (seed 000)
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

NUM_SAMPLES = 32


# ============================================================================= data (not in the seed)
def make_data(num_samples=NUM_SAMPLES, seed=0):
    """``headline_data`` (int32, (n, 100), ids in 1..9999), ``additional_data`` (float32, (n, 5)) and
    ``labels`` (float32, (n, 1)); the label is readable from the headline's words."""
    rng = np.random.default_rng(seed)
    words = rng.choice(np.arange(1, 10000), size=120, replace=False)
    popular, unpopular, neutral = words[:40], words[40:80], words[80:]
    labels = rng.integers(0, 2, num_samples)
    headline_data = np.empty((num_samples, 100), np.int32)
    for i, label in enumerate(labels):
        topical = rng.random(100) < 0.3
        pool = popular if label else unpopular
        headline_data[i] = np.where(topical, rng.choice(pool, 100), rng.choice(neutral, 100))
    additional_data = rng.standard_normal((num_samples, 5)).astype(np.float32)
    additional_data[:, 0] += np.where(labels == 1, 0.5, -0.5)
    return headline_data, additional_data, labels.astype(np.float32)[:, None]


# ============================================================================= seeds 001 and 003 (Keras 2)
def seed_001_003(headline_data, additional_data, labels):
    import irgraph as keras
    from irgraph.layers import Input, Embedding, LSTM, Dense
    from irgraph.models import Model

    # Headline input: meant to receive sequences of 100 integers, between 1 and 10000.
    # Note that we can name any layer by passing it a "name" argument.
    main_input = Input(shape=(100,), dtype='int32', name='main_input')

    # This embedding layer will encode the input sequence
    # into a sequence of dense 512-dimensional vectors.
    x = Embedding(output_dim=512, input_dim=10000, input_length=100)(main_input)

    # A LSTM will transform the vector sequence into a single vector,
    # containing information about the entire sequence
    lstm_out = LSTM(32)(x)

    auxiliary_output = Dense(1, activation='sigmoid', name='aux_output')(lstm_out)

    auxiliary_input = Input(shape=(5,), name='aux_input')
    x = keras.layers.concatenate([lstm_out, auxiliary_input])

    # We stack a deep densely-connected network on top
    x = Dense(64, activation='relu')(x)
    x = Dense(64, activation='relu')(x)
    x = Dense(64, activation='relu')(x)

    # And finally we add the main logistic regression layer
    main_output = Dense(1, activation='sigmoid', name='main_output')(x)

    model = Model(inputs=[main_input, auxiliary_input], outputs=[main_output, auxiliary_output])

    model.compile(optimizer='rmsprop', loss='binary_crossentropy',
                  loss_weights=[1., 0.2])

    model.fit([headline_data, additional_data], [labels, labels],
              epochs=50, batch_size=32)
    history_lists, weights_after_lists = model.history, model.get_weights()  # added

    model.compile(optimizer='rmsprop',
                  loss={'main_output': 'binary_crossentropy', 'aux_output': 'binary_crossentropy'},
                  loss_weights={'main_output': 1., 'aux_output': 0.2})

    # And trained it via:
    model.fit({'main_input': headline_data, 'aux_input': additional_data},
              {'main_output': labels, 'aux_output': labels},
              epochs=50, batch_size=32)
    return SimpleNamespace(model=model, history_lists=history_lists, weights_after_lists=weights_after_lists,
                           history_dicts=model.history)


# ============================================================================= seed 000 (Keras 1)
def seed_000(headline_data, additional_data, labels):
    from irgraph.layers import Input, Embedding, LSTM, Dense, merge
    from irgraph.models import Model

    # headline input: meant to receive sequences of 100 integers, between 1 and 10000.
    # note that we can name any layer by passing it a "name" argument.
    main_input = Input(shape=(100,), dtype='int32', name='main_input')

    # this embedding layer will encode the input sequence
    # into a sequence of dense 512-dimensional vectors.
    x = Embedding(output_dim=512, input_dim=10000, input_length=100)(main_input)

    # a LSTM will transform the vector sequence into a single vector,
    # containing information about the entire sequence
    lstm_out = LSTM(32)(x)

    auxiliary_output = Dense(1, activation='sigmoid', name='aux_output')(lstm_out)

    auxiliary_input = Input(shape=(5,), name='aux_input')
    x = merge([lstm_out, auxiliary_input], mode='concat')

    # we stack a deep fully-connected network on top
    x = Dense(64, activation='relu')(x)
    x = Dense(64, activation='relu')(x)
    x = Dense(64, activation='relu')(x)

    # and finally we add the main logistic regression layer
    main_output = Dense(1, activation='sigmoid', name='main_output')(x)

    model = Model(input=[main_input, auxiliary_input], output=[main_output, auxiliary_output])

    model.compile(optimizer='rmsprop', loss='binary_crossentropy',
                  loss_weights=[1., 0.2])

    model.fit([headline_data, additional_data], [labels, labels],
              nb_epoch=50, batch_size=32)
    history_lists, weights_after_lists = model.history, model.get_weights()  # added

    model.compile(optimizer='rmsprop',
                  loss={'main_output': 'binary_crossentropy', 'aux_output': 'binary_crossentropy'},
                  loss_weights={'main_output': 1., 'aux_output': 0.2})

    # and trained it via:
    model.fit({'main_input': headline_data, 'aux_input': additional_data},
              {'main_output': labels, 'aux_output': labels},
              nb_epoch=50, batch_size=32)
    return SimpleNamespace(model=model, history_lists=history_lists, weights_after_lists=weights_after_lists,
                           history_dicts=model.history)


LISTINGS = {"keras2": ("seeds 001/003, Keras 2 listing", seed_001_003),
            "keras1": ("seed 000, Keras 1 listing", seed_000)}


def main(variant="keras2", num_samples=NUM_SAMPLES, seed=0):
    """Make the data, run the listing, print what it achieved; returns the listing's namespace plus
    ``first_loss`` / ``last_loss`` of each fit."""
    what, listing = LISTINGS[variant]
    headline_data, additional_data, labels = make_data(num_samples, seed)
    ns = listing(headline_data, additional_data, labels)
    ns.what = what
    for form in ("lists", "dicts"):
        h = getattr(ns, "history_" + form).history
        print(f"{form}-form fit, loss per epoch: " + " ".join(f"{v:.3f}" for v in h["loss"]))
        print(f"{form}-form fit, aux_output_loss per epoch: " + " ".join(f"{v:.3f}" for v in h["aux_output_loss"]))
    ns.summary = (f"news model ({what}): list-form fit loss {ns.history_lists.history['loss'][0]:.3f} -> "
                  f"{ns.history_lists.history['loss'][-1]:.3f} (aux_output_loss "
                  f"{ns.history_lists.history['aux_output_loss'][0]:.3f} -> "
                  f"{ns.history_lists.history['aux_output_loss'][-1]:.3f}); dict-form fit loss "
                  f"{ns.history_dicts.history['loss'][0]:.3f} -> {ns.history_dicts.history['loss'][-1]:.3f}, "
                  f"on {num_samples} generated headlines")
    return ns


if __name__ == "__main__":
    print(main(*sys.argv[1:2]).summary)
