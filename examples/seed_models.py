"""Every model listing of the seed documents, written with ``irgraph`` in place of ``keras``.

Seed 000 (Keras 1 functional-API guide, Chinese translation), seeds 001 and 003 (the Keras 2 guide;
001 has (280, 256) tweets, 003 (140, 256)) and the non-training listings of seed 004 (Gulli & Pal,
"Deep Learning with Keras", chapter 7, translated). Each function builds the model exactly as its
listing does -- the listing's spelling (Keras 1 ``merge(mode=...)``, ``Convolution2D(64, 3, 3,
border_mode='same')``, ``Model(input=, output=)``; Keras 2 ``Conv2D(64, (3, 3), padding='same')``,
``keras.layers.concatenate``), with only the import lines changed (``keras`` -> ``irgraph``) -- and
returns a ``SimpleNamespace`` of the listing's objects. ``ns.models`` maps a short name to every
model worth exporting; where a listing only produces a tensor (``y = model(x)``,
``processed_sequences = TimeDistributed(model)(...)``, the node-accessor snippets), a ``Model``
around it is added under ``ns.models`` (marked "added" below).

Deviations from the listings (all parameters, nothing structural):
  * ``model.compile(...)`` / ``model.fit(...)`` lines are left out (training is a later issue).
  * Image sizes are parameters. Their defaults are the listings' values except for VQA and
    video-QA: the VQA vision model at 224x224 ends in a 160,000-wide Flatten, so Dense(1000) would
    hold 160M weights; those two default to 32x32 images (the smallest size the VGG-like stack of
    three valid 3x3 convs and three 2x2 pools accepts) and video-QA to 4 frames instead of 100.
    Tests and ``run_seeds.py`` also shrink the inception/residual images (256 -> 32), see SMALL.
  * Seed 000 is Keras 1, whose default image ordering was Theano's 'th' (channels_first): its image
    listings are built under ``K.set_image_dim_ordering('th')`` (restored afterwards), as their
    (3, 32, 32)-style shapes require.
  * Seed 004: ``lambda(...)`` (a syntax error from translation) is ``Lambda(...)``; the
    LocalResponseNormalization custom layer's undefined ``n`` is ``self.n`` and its
    ``K.image_dim_ordering == "th"`` (a function compared to a string: always False, so always the
    channels_last path) is written correctly as ``K.image_dim_ordering() == "th"`` (same behaviour
    under the default channels_last ordering). Constants the seed does not define are taken from
    the book or chosen small, and documented where used (``LATENT_SIZE`` of the autoencoder,
    ``VECTOR_SIZE`` of the Lambda example, ``input_sequences`` of the TimeDistributed one-liner).
  * Seed 004's memory network uses the sizes the text reports for bAbI task 1 (22-word vocabulary
    with PAD, stories of at most 14 words, questions of 4); its data pipeline (``pad_sequences``,
    ``np_utils.to_categorical``) runs on synthetic stories in :func:`s004_memory_network_data`.
"""
from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np

# Sizes used by the tests and run_seeds.py (small enough for 2 CPU cores); the functions' defaults
# are the listings' own sizes except where the module docstring says otherwise.
SMALL = {
    "image_size": 32,        # inception / residual: 256 -> 32
    "vqa_image_size": 32,    # VQA / video-QA (already the default)
    "video_frames": 4,       # video-QA: 100 -> 4 (already the default)
}


@contextlib.contextmanager
def keras1_image_ordering(ordering="th"):
    """Build Keras 1 image listings under Theano's dim ordering, as Keras 1 did by default."""
    from irgraph import backend as K
    old = K.image_data_format()
    K.set_image_dim_ordering(ordering)
    try:
        yield
    finally:
        K.set_image_data_format(old)


# =============================================================================================
# Seed 000: Keras 1 functional-API guide ("快速开始泛型模型")
# =============================================================================================
def k1_mlp():
    """784 -> Dense(64, relu) -> Dense(64, relu) -> Dense(10, softmax); Model(input=, output=)."""
    from irgraph.layers import Input, Dense
    from irgraph.models import Model

    # this returns a tensor
    inputs = Input(shape=(784,))

    # a layer instance is callable on a tensor, and returns a tensor
    x = Dense(64, activation='relu')(inputs)
    x = Dense(64, activation='relu')(x)
    predictions = Dense(10, activation='softmax')(x)

    # this creates a model that includes
    # the Input layer and three Dense layers
    model = Model(input=inputs, output=predictions)
    # model.compile(...) / model.fit(data, labels): training, left out
    return SimpleNamespace(model=model, inputs=inputs, predictions=predictions,
                           models={"mlp": model})


def k1_model_reuse(model=None):
    """``y = model(x)`` (a model called as a layer) and ``TimeDistributed(model)`` over (20, 784)."""
    from irgraph.layers import Input
    from irgraph.models import Model
    if model is None:
        model = k1_mlp().model

    x = Input(shape=(784,))
    # this works, and returns the 10-way softmax we defined above.
    y = model(x)

    from irgraph.layers import TimeDistributed

    # input tensor for sequences of 20 timesteps,
    # each containing a 784-dimensional vector
    input_sequences = Input(shape=(20, 784))

    # this applies our previous model to every timestep in the input sequences.
    # the output of the previous model was a 10-way softmax,
    # so the output of the layer below will be a sequence of 20 vectors of size 10.
    processed_sequences = TimeDistributed(model)(input_sequences)

    # added: models around the two tensors, to export and run them
    reuse_model = Model(input=x, output=y)
    td_model = Model(input=input_sequences, output=processed_sequences)
    return SimpleNamespace(model=model, x=x, y=y, input_sequences=input_sequences,
                           processed_sequences=processed_sequences,
                           models={"model_as_layer": reuse_model, "time_distributed_model": td_model})


def k1_multi_io():
    """Headline (Embedding 10000x512, LSTM(32)) + aux input (5,) -> main_output and aux_output."""
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
    # model.compile(optimizer='rmsprop', loss='binary_crossentropy', loss_weights=[1., 0.2]): left out
    return SimpleNamespace(model=model, main_input=main_input, auxiliary_input=auxiliary_input,
                           lstm_out=lstm_out, main_output=main_output, auxiliary_output=auxiliary_output,
                           models={"multi_io": model})


def k1_shared_lstm(tweet_len=140):
    """Two (140, 256) tweets through one shared LSTM(64), merged (concat), Dense(1, sigmoid)."""
    from irgraph.layers import Input, LSTM, Dense, merge
    from irgraph.models import Model

    tweet_a = Input(shape=(tweet_len, 256))
    tweet_b = Input(shape=(tweet_len, 256))

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
    return SimpleNamespace(model=model, shared_lstm=shared_lstm, encoded_a=encoded_a,
                           encoded_b=encoded_b, models={"shared_lstm": model})


def _lstm_node_accessors(LSTM, Input, Model, tweet_len):
    """The "layer node" LSTM snippets, shared by the Keras 1 and 2 spellings."""
    a = Input(shape=(tweet_len, 256))

    lstm = LSTM(32)
    encoded_a = lstm(a)

    assert lstm.output == encoded_a
    single = SimpleNamespace(lstm=lstm, a=a, encoded_a=encoded_a)

    a = Input(shape=(tweet_len, 256))
    b = Input(shape=(tweet_len, 256))

    lstm = LSTM(32)
    encoded_a = lstm(a)
    encoded_b = lstm(b)

    # `lstm.output` raises here (multiple inbound nodes); kept to show the error
    try:
        lstm.output
        error = None
    except Exception as err:  # noqa: BLE001 -- the listing shows the error
        error = err

    assert lstm.get_output_at(0) == encoded_a
    assert lstm.get_output_at(1) == encoded_b
    lstm_model = Model([a, b], [encoded_a, encoded_b])  # added: run both nodes
    return single, SimpleNamespace(lstm=lstm, a=a, b=b, encoded_a=encoded_a, encoded_b=encoded_b,
                                   error=error, model=lstm_model)


def k1_node_accessors(tweet_len=140):
    """LSTM output / get_output_at, and a Convolution2D on (3, 32, 32) then (3, 64, 64) ('th')."""
    from irgraph.layers import Input, LSTM, Convolution2D
    from irgraph.models import Model

    single, shared = _lstm_node_accessors(LSTM, Input, Model, tweet_len)

    with keras1_image_ordering():
        a = Input(shape=(3, 32, 32))
        b = Input(shape=(3, 64, 64))

        conv = Convolution2D(16, 3, 3, border_mode='same')
        conved_a = conv(a)

        # only one input so far, the following will work:
        assert conv.input_shape == (None, 3, 32, 32)
        first_input_shape = conv.input_shape  # kept for the tests

        conved_b = conv(b)
        # now the `.input_shape` property wouldn't work, but this does:
        assert conv.get_input_shape_at(0) == (None, 3, 32, 32)
        assert conv.get_input_shape_at(1) == (None, 3, 64, 64)
        conv_model = Model([a, b], [conved_a, conved_b])  # added: run both nodes
    return SimpleNamespace(single=single, shared=shared, conv=conv, conved_a=conved_a, conved_b=conved_b,
                           first_input_shape=first_input_shape,
                           models={"lstm_nodes": shared.model, "conv_nodes": conv_model})


def k1_inception(image_size=256):
    """Three towers on (3, 256, 256), merged with mode='concat', concat_axis=1 (channels, 'th')."""
    from irgraph.layers import merge, Convolution2D, MaxPooling2D, Input
    from irgraph.models import Model

    with keras1_image_ordering():
        input_img = Input(shape=(3, image_size, image_size))

        tower_1 = Convolution2D(64, 1, 1, border_mode='same', activation='relu')(input_img)
        tower_1 = Convolution2D(64, 3, 3, border_mode='same', activation='relu')(tower_1)

        tower_2 = Convolution2D(64, 1, 1, border_mode='same', activation='relu')(input_img)
        tower_2 = Convolution2D(64, 5, 5, border_mode='same', activation='relu')(tower_2)

        tower_3 = MaxPooling2D((3, 3), strides=(1, 1), border_mode='same')(input_img)
        tower_3 = Convolution2D(64, 1, 1, border_mode='same', activation='relu')(tower_3)

        output = merge([tower_1, tower_2, tower_3], mode='concat', concat_axis=1)
        model = Model(input=input_img, output=output)  # added
    return SimpleNamespace(model=model, output=output, models={"inception": model})


def k1_residual(image_size=256):
    """x + Convolution2D(3, 3, 3, border_mode='same')(x) on (3, 256, 256), merge(mode='sum')."""
    from irgraph.layers import merge, Convolution2D, Input
    from irgraph.models import Model

    with keras1_image_ordering():
        # input tensor for a 3-channel 256x256 image
        x = Input(shape=(3, image_size, image_size))
        # 3x3 conv with 3 output channels(same as input channels)
        y = Convolution2D(3, 3, 3, border_mode='same')(x)
        # this returns x + y.
        z = merge([x, y], mode='sum')
        model = Model(input=x, output=z)  # added
    return SimpleNamespace(model=model, z=z, models={"residual": model})


def k1_shared_vision():
    """A vision Model on (1, 27, 27) ('th') shared by two digits, concat, Dense(1, sigmoid)."""
    from irgraph.layers import merge, Convolution2D, MaxPooling2D, Input, Dense, Flatten
    from irgraph.models import Model

    with keras1_image_ordering():
        # first, define the vision modules
        digit_input = Input(shape=(1, 27, 27))
        x = Convolution2D(64, 3, 3)(digit_input)
        x = Convolution2D(64, 3, 3)(x)
        x = MaxPooling2D((2, 2))(x)
        out = Flatten()(x)

        vision_model = Model(digit_input, out)

        # then define the tell-digits-apart model
        digit_a = Input(shape=(1, 27, 27))
        digit_b = Input(shape=(1, 27, 27))

        # the vision model will be shared, weights and all
        out_a = vision_model(digit_a)
        out_b = vision_model(digit_b)

        concatenated = merge([out_a, out_b], mode='concat')
        out = Dense(1, activation='sigmoid')(concatenated)

        classification_model = Model([digit_a, digit_b], out)
    return SimpleNamespace(model=classification_model, vision_model=vision_model,
                           models={"shared_vision": classification_model})


def k1_vqa_video(image_size=32, frames=4):
    """VQA (Sequential VGG-like vision model on (3, 224, 224) -- 32x32 here -- + question LSTM) and
    video-QA (TimeDistributed(vision_model) over (100, 3, 224, 224) -- 4 frames of 32x32 here)."""
    from irgraph.layers import Convolution2D, MaxPooling2D, Flatten
    from irgraph.layers import Input, LSTM, Embedding, Dense, merge
    from irgraph.models import Model, Sequential

    with keras1_image_ordering():
        # first, let's define a vision model using a Sequential model.
        # this model will encode an image into a vector.
        vision_model = Sequential()
        vision_model.add(Convolution2D(64, 3, 3, activation='relu', border_mode='same',
                                       input_shape=(3, image_size, image_size)))
        vision_model.add(Convolution2D(64, 3, 3, activation='relu'))
        vision_model.add(MaxPooling2D((2, 2)))
        vision_model.add(Convolution2D(128, 3, 3, activation='relu', border_mode='same'))
        vision_model.add(Convolution2D(128, 3, 3, activation='relu'))
        vision_model.add(MaxPooling2D((2, 2)))
        vision_model.add(Convolution2D(256, 3, 3, activation='relu', border_mode='same'))
        vision_model.add(Convolution2D(256, 3, 3, activation='relu'))
        vision_model.add(Convolution2D(256, 3, 3, activation='relu'))
        vision_model.add(MaxPooling2D((2, 2)))
        vision_model.add(Flatten())

        # now let's get a tensor with the output of our vision model:
        image_input = Input(shape=(3, image_size, image_size))
        encoded_image = vision_model(image_input)

        # next, let's define a language model to encode the question into a vector.
        # each question will be at most 100 word long,
        # and we will index words as integers from 1 to 9999.
        question_input = Input(shape=(100,), dtype='int32')
        embedded_question = Embedding(input_dim=10000, output_dim=256, input_length=100)(question_input)
        encoded_question = LSTM(256)(embedded_question)

        # let's concatenate the question vector and the image vector:
        merged = merge([encoded_question, encoded_image], mode='concat')

        # and let's train a logistic regression over 1000 words on top:
        output = Dense(1000, activation='softmax')(merged)

        # this is our final model:
        vqa_model = Model(input=[image_input, question_input], output=output)

        from irgraph.layers import TimeDistributed

        video_input = Input(shape=(frames, 3, image_size, image_size))
        # this is our video encoded via the previously trained vision_model (weights are reused)
        encoded_frame_sequence = TimeDistributed(vision_model)(video_input)  # the output will be a sequence of vectors
        encoded_video = LSTM(256)(encoded_frame_sequence)  # the output will be a vector

        # this is a model-level representation of the question encoder, reusing the same weights as before:
        question_encoder = Model(input=question_input, output=encoded_question)

        # let's use it to encode the question:
        video_question_input = Input(shape=(100,), dtype='int32')
        encoded_video_question = question_encoder(video_question_input)

        # and this is our video question answering model:
        merged = merge([encoded_video, encoded_video_question], mode='concat')
        output = Dense(1000, activation='softmax')(merged)
        video_qa_model = Model(input=[video_input, video_question_input], output=output)
    return SimpleNamespace(vision_model=vision_model, vqa_model=vqa_model, question_encoder=question_encoder,
                           video_qa_model=video_qa_model, models={"vqa": vqa_model, "video_qa": video_qa_model})


# =============================================================================================
# Seeds 001 and 003: the Keras 2 functional-API guide (channels_last)
# =============================================================================================
def k2_mlp():
    from irgraph.layers import Input, Dense
    from irgraph.models import Model

    # This returns a tensor
    inputs = Input(shape=(784,))

    # a layer instance is callable on a tensor, and returns a tensor
    x = Dense(64, activation='relu')(inputs)
    x = Dense(64, activation='relu')(x)
    predictions = Dense(10, activation='softmax')(x)

    # This creates a model that includes
    # the Input layer and three Dense layers
    model = Model(inputs=inputs, outputs=predictions)
    return SimpleNamespace(model=model, inputs=inputs, predictions=predictions, models={"mlp": model})


def k2_model_reuse(model=None):
    from irgraph.layers import Input
    from irgraph.models import Model
    if model is None:
        model = k2_mlp().model

    x = Input(shape=(784,))
    # This works, and returns the 10-way softmax we defined above.
    y = model(x)

    from irgraph.layers import TimeDistributed

    # Input tensor for sequences of 20 timesteps,
    # each containing a 784-dimensional vector
    input_sequences = Input(shape=(20, 784))

    # This applies our previous model to every timestep in the input sequences.
    # the output of the previous model was a 10-way softmax,
    # so the output of the layer below will be a sequence of 20 vectors of size 10.
    processed_sequences = TimeDistributed(model)(input_sequences)

    reuse_model = Model(inputs=x, outputs=y)  # added
    td_model = Model(inputs=input_sequences, outputs=processed_sequences)  # added
    return SimpleNamespace(model=model, x=x, y=y, input_sequences=input_sequences,
                           processed_sequences=processed_sequences,
                           models={"model_as_layer": reuse_model, "time_distributed_model": td_model})


def k2_multi_io():
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
    return SimpleNamespace(model=model, main_input=main_input, auxiliary_input=auxiliary_input,
                           lstm_out=lstm_out, main_output=main_output, auxiliary_output=auxiliary_output,
                           models={"multi_io": model})


def k2_shared_lstm(tweet_len=280):
    """Seed 001: (280, 256) tweets; seed 003: (140, 256)."""
    import irgraph as keras
    from irgraph.layers import Input, LSTM, Dense
    from irgraph.models import Model

    tweet_a = Input(shape=(tweet_len, 256))
    tweet_b = Input(shape=(tweet_len, 256))

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
    return SimpleNamespace(model=model, shared_lstm=shared_lstm, encoded_a=encoded_a,
                           encoded_b=encoded_b, models={"shared_lstm": model})


def k2_node_accessors(tweet_len=280):
    """LSTM output / get_output_at, and a Conv2D on (32, 32, 3) then (64, 64, 3)."""
    from irgraph.layers import Input, LSTM, Conv2D
    from irgraph.models import Model

    single, shared = _lstm_node_accessors(LSTM, Input, Model, tweet_len)

    a = Input(shape=(32, 32, 3))
    b = Input(shape=(64, 64, 3))

    conv = Conv2D(16, (3, 3), padding='same')
    conved_a = conv(a)

    # Only one input so far, the following will work:
    assert conv.input_shape == (None, 32, 32, 3)
    first_input_shape = conv.input_shape  # kept for the tests

    conved_b = conv(b)
    # now the `.input_shape` property wouldn't work, but this does:
    assert conv.get_input_shape_at(0) == (None, 32, 32, 3)
    assert conv.get_input_shape_at(1) == (None, 64, 64, 3)
    conv_model = Model([a, b], [conved_a, conved_b])  # added
    return SimpleNamespace(single=single, shared=shared, conv=conv, conved_a=conved_a, conved_b=conved_b,
                           first_input_shape=first_input_shape,
                           models={"lstm_nodes": shared.model, "conv_nodes": conv_model})


def k2_inception(image_size=256):
    """Three towers on (256, 256, 3) concatenated with axis=1 -- in channels_last that is the height
    axis, so Keras gives (None, 768, 256, 64) -- reproduced as Keras does it."""
    import irgraph as keras
    from irgraph.layers import Conv2D, MaxPooling2D, Input
    from irgraph.models import Model

    input_img = Input(shape=(image_size, image_size, 3))

    tower_1 = Conv2D(64, (1, 1), padding='same', activation='relu')(input_img)
    tower_1 = Conv2D(64, (3, 3), padding='same', activation='relu')(tower_1)

    tower_2 = Conv2D(64, (1, 1), padding='same', activation='relu')(input_img)
    tower_2 = Conv2D(64, (5, 5), padding='same', activation='relu')(tower_2)

    tower_3 = MaxPooling2D((3, 3), strides=(1, 1), padding='same')(input_img)
    tower_3 = Conv2D(64, (1, 1), padding='same', activation='relu')(tower_3)

    output = keras.layers.concatenate([tower_1, tower_2, tower_3], axis=1)
    model = Model(inputs=input_img, outputs=output)  # added
    return SimpleNamespace(model=model, output=output, models={"inception": model})


def k2_residual(image_size=256):
    import irgraph as keras
    from irgraph.layers import Conv2D, Input
    from irgraph.models import Model

    # input tensor for a 3-channel 256x256 image
    x = Input(shape=(image_size, image_size, 3))
    # 3x3 conv with 3 output channels (same as input channels)
    y = Conv2D(3, (3, 3), padding='same')(x)
    # this returns x + y.
    z = keras.layers.add([x, y])
    model = Model(inputs=x, outputs=z)  # added
    return SimpleNamespace(model=model, z=z, models={"residual": model})


def k2_shared_vision():
    import irgraph as keras
    from irgraph.layers import Conv2D, MaxPooling2D, Input, Dense, Flatten
    from irgraph.models import Model

    # First, define the vision modules
    digit_input = Input(shape=(27, 27, 1))
    x = Conv2D(64, (3, 3))(digit_input)
    x = Conv2D(64, (3, 3))(x)
    x = MaxPooling2D((2, 2))(x)
    out = Flatten()(x)

    vision_model = Model(digit_input, out)

    # Then define the tell-digits-apart model
    digit_a = Input(shape=(27, 27, 1))
    digit_b = Input(shape=(27, 27, 1))

    # The vision model will be shared, weights and all
    out_a = vision_model(digit_a)
    out_b = vision_model(digit_b)

    concatenated = keras.layers.concatenate([out_a, out_b])
    out = Dense(1, activation='sigmoid')(concatenated)

    classification_model = Model([digit_a, digit_b], out)
    return SimpleNamespace(model=classification_model, vision_model=vision_model,
                           models={"shared_vision": classification_model})


def k2_vqa_video(image_size=32, frames=4):
    """VQA on (224, 224, 3) images -- 32x32 here -- and video-QA on (100, 224, 224, 3) -- 4 frames."""
    import irgraph as keras
    from irgraph.layers import Conv2D, MaxPooling2D, Flatten
    from irgraph.layers import Input, LSTM, Embedding, Dense
    from irgraph.models import Model, Sequential

    # First, let's define a vision model using a Sequential model.
    # This model will encode an image into a vector.
    vision_model = Sequential()
    vision_model.add(Conv2D(64, (3, 3), activation='relu', padding='same',
                            input_shape=(image_size, image_size, 3)))
    vision_model.add(Conv2D(64, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(128, (3, 3), activation='relu', padding='same'))
    vision_model.add(Conv2D(128, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Conv2D(256, (3, 3), activation='relu', padding='same'))
    vision_model.add(Conv2D(256, (3, 3), activation='relu'))
    vision_model.add(Conv2D(256, (3, 3), activation='relu'))
    vision_model.add(MaxPooling2D((2, 2)))
    vision_model.add(Flatten())

    # Now let's get a tensor with the output of our vision model:
    image_input = Input(shape=(image_size, image_size, 3))
    encoded_image = vision_model(image_input)

    # Next, let's define a language model to encode the question into a vector.
    # Each question will be at most 100 word long,
    # and we will index words as integers from 1 to 9999.
    question_input = Input(shape=(100,), dtype='int32')
    embedded_question = Embedding(input_dim=10000, output_dim=256, input_length=100)(question_input)
    encoded_question = LSTM(256)(embedded_question)

    # Let's concatenate the question vector and the image vector:
    merged = keras.layers.concatenate([encoded_question, encoded_image])

    # And let's train a logistic regression over 1000 words on top:
    output = Dense(1000, activation='softmax')(merged)

    # This is our final model:
    vqa_model = Model(inputs=[image_input, question_input], outputs=output)

    from irgraph.layers import TimeDistributed

    video_input = Input(shape=(frames, image_size, image_size, 3))
    # This is our video encoded via the previously trained vision_model (weights are reused)
    encoded_frame_sequence = TimeDistributed(vision_model)(video_input)
    # the output will be a sequence of vectors
    encoded_video = LSTM(256)(encoded_frame_sequence)
    # the output will be a vector

    # This is a model-level representation of the question encoder, reusing the same weights as before:
    question_encoder = Model(inputs=question_input, outputs=encoded_question)

    # Let's use it to encode the question:
    video_question_input = Input(shape=(100,), dtype='int32')
    encoded_video_question = question_encoder(video_question_input)

    # And this is our video question answering model:
    merged = keras.layers.concatenate([encoded_video, encoded_video_question])
    output = Dense(1000, activation='softmax')(merged)
    video_qa_model = Model(inputs=[video_input, video_question_input], outputs=output)
    return SimpleNamespace(vision_model=vision_model, vqa_model=vqa_model, question_encoder=question_encoder,
                           video_qa_model=video_qa_model, models={"vqa": vqa_model, "video_qa": video_qa_model})


# =============================================================================================
# Seed 004: "Deep Learning with Keras", chapter 7 (non-training listings)
# =============================================================================================
def s004_sequential_mlp():
    from irgraph.models import Sequential
    from irgraph.layers.core import dense, Activation
    model = Sequential([
        dense(32, input_dim=784),
        Activation("sigmoid"),
        dense(10),
        Activation("softmax"),
    ])
    # model.compile(loss="categorical_crossentropy", optimizer="adam"): left out
    return SimpleNamespace(model=model, models={"sequential_mlp": model})


def s004_functional_mlp():
    from irgraph.layers import Input
    from irgraph.layers.core import dense
    from irgraph.models import Model
    from irgraph.layers.core import Activation
    inputs = Input(shape=(784,))
    x = dense(32)(inputs)
    x = Activation("sigmoid")(x)
    x = dense(10)(x)
    predictions = Activation("softmax")(x)
    model = Model(inputs=inputs, outputs=predictions)
    return SimpleNamespace(model=model, models={"functional_mlp": model})


def s004_time_distributed(model=None):
    """``sequence_predictions = TimeDistributed(model)(input_sequences)``; the seed does not define
    ``input_sequences``: it is seed 000's ``Input(shape=(20, 784))``."""
    from irgraph.layers import Input
    from irgraph.layers.wrappers import TimeDistributed
    from irgraph.models import Model
    if model is None:
        model = s004_functional_mlp().model
    input_sequences = Input(shape=(20, 784))
    sequence_predictions = TimeDistributed(model)(input_sequences)
    td_model = Model(inputs=input_sequences, outputs=sequence_predictions)  # added
    return SimpleNamespace(model=model, sequence_predictions=sequence_predictions,
                           models={"time_distributed": td_model})


def s004_regression():
    """Benzene regression: 12 readings -> dense(8, relu) -> dense(1), glorot_uniform kernels."""
    from irgraph.layers import Input
    from irgraph.layers.core import dense
    from irgraph.models import Model
    readings = Input(shape=(12,))
    x = dense(8, activation="relu", kernel_initializer="glorot_uniform")(readings)
    benzene = dense(1, kernel_initializer="glorot_uniform")(x)
    model = Model(inputs=[readings], outputs=[benzene])
    # model.compile(loss="mse", optimizer="adam"); model.fit(...): left out
    return SimpleNamespace(model=model, models={"regression": model})


def s004_autoencoder(SEQUENCE_LEN=50, EMBED_SIZE=50, LATENT_SIZE=512):
    """Sentence autoencoder: Bidirectional LSTM encoder (sum), RepeatVector, Bidirectional LSTM
    decoder; the encoder extracted with ``get_layer("encoder_lstm").output``. SEQUENCE_LEN and
    EMBED_SIZE are the seed's; LATENT_SIZE is not defined in the seed: 512 is the book's value."""
    from irgraph.layers import Input
    from irgraph.layers.core import RepeatVector
    from irgraph.layers.recurrent import LSTM
    from irgraph.layers.wrappers import Bidirectional
    from irgraph.models import Model

    inputs = Input(shape=(SEQUENCE_LEN, EMBED_SIZE), name="input")
    encoded = Bidirectional(LSTM(LATENT_SIZE), merge_mode="sum",
                            name="encoder_lstm")(inputs)
    decoded = RepeatVector(SEQUENCE_LEN, name="repeater")(encoded)
    decoded = Bidirectional(LSTM(EMBED_SIZE, return_sequences=True),
                            merge_mode="sum",
                            name="decoder_lstm")(decoded)
    autoencoder = Model(inputs, decoded)
    # autoencoder.compile(optimizer="sgd", loss="mse"); fit_generator(...): left out

    encoder = Model(autoencoder.input, autoencoder.get_layer("encoder_lstm").output)
    return SimpleNamespace(autoencoder=autoencoder, encoder=encoder, inputs=inputs, encoded=encoded,
                           decoded=decoded, models={"autoencoder": autoencoder, "encoder": encoder})


def s004_memory_network(vocab_size=22, story_maxlen=14, question_maxlen=4):
    """End-to-end memory network for bAbI task 1 (sizes as the seed reports them)."""
    from irgraph.layers import Input
    from irgraph.layers.core import Activation, dense, Dropout, Permute
    from irgraph.layers.embeddings import Embedding
    from irgraph.layers.merge import add, concatenate, dot
    from irgraph.layers.recurrent import LSTM
    from irgraph.models import Model

    EMBEDDING_SIZE = 64
    LATENT_SIZE = 32
    # inputs
    story_input = Input(shape=(story_maxlen,))
    question_input = Input(shape=(question_maxlen,))
    # story encoder memory
    story_encoder = Embedding(input_dim=vocab_size,
                              output_dim=EMBEDDING_SIZE,
                              input_length=story_maxlen)(story_input)
    story_encoder = Dropout(0.3)(story_encoder)
    # question encoder
    question_encoder = Embedding(input_dim=vocab_size,
                                 output_dim=EMBEDDING_SIZE,
                                 input_length=question_maxlen)(question_input)
    question_encoder = Dropout(0.3)(question_encoder)
    # match between story and question
    match = dot([story_encoder, question_encoder], axes=[2, 2])
    # encode story into vector space of question
    story_encoder_c = Embedding(input_dim=vocab_size,
                                output_dim=question_maxlen,
                                input_length=story_maxlen)(story_input)
    story_encoder_c = Dropout(0.3)(story_encoder_c)
    # combine match and story vectors
    response = add([match, story_encoder_c])
    response = Permute((2, 1))(response)
    # combine response and question vectors
    answer = concatenate([response, question_encoder], axis=-1)
    answer = LSTM(LATENT_SIZE)(answer)
    answer = Dropout(0.3)(answer)
    answer = dense(vocab_size)(answer)
    output = Activation("softmax")(answer)
    model = Model(inputs=[story_input, question_input], outputs=output)
    # model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"]): left out
    return SimpleNamespace(model=model, match=match, response=response, models={"memory_network": model})


def s004_memory_network_data(n=8, vocab_size=22, story_maxlen=14, question_maxlen=4, seed=0):
    """The seed's ``vectorize`` on synthetic stories: word-id lists of varying length, padded with
    ``pad_sequences`` and answers one-hot encoded with ``np_utils.to_categorical``."""
    from irgraph.preprocessing.sequence import pad_sequences
    from irgraph.utils import np_utils
    rng = np.random.default_rng(seed)
    Xs = [list(rng.integers(1, vocab_size, size=rng.integers(1, story_maxlen + 3))) for _ in range(n)]
    Xq = [list(rng.integers(1, vocab_size, size=rng.integers(1, question_maxlen + 1))) for _ in range(n)]
    Y = list(rng.integers(1, vocab_size, size=n))
    return (pad_sequences(Xs, maxlen=story_maxlen),
            pad_sequences(Xq, maxlen=question_maxlen),
            np_utils.to_categorical(Y, num_classes=vocab_size))


def s004_square_lambda(VECTOR_SIZE=16):
    """``model.add(lambda(lambda x: x ** 2))`` -- ``Lambda`` (the lowercase spelling is a syntax error
    from translation); the seed shows only the ``add`` line: the Sequential and its input_shape
    (VECTOR_SIZE, chosen) are added so that it can run."""
    from irgraph.layers import Lambda
    from irgraph.models import Sequential
    model = Sequential()
    model.add(Lambda(lambda x: x ** 2, input_shape=(VECTOR_SIZE,)))
    return SimpleNamespace(model=model, models={"square_lambda": model})


def s004_euclidean_distance(VECTOR_SIZE=100):
    """Element-wise Euclidean distance of two dense(1024) branches in a Lambda layer.
    VECTOR_SIZE is not defined in the seed: 100 is chosen."""
    from irgraph import backend as K
    from irgraph.layers import Input, Lambda
    from irgraph.layers.core import dense
    from irgraph.models import Model

    def euclidean_distance(vecs):
        x, y = vecs
        return K.sqrt(K.sum(K.square(x - y), axis=1, keepdims=True))

    def euclidean_distance_output_shape(shapes):
        shape1, shape2 = shapes
        return (shape1[0], 1)

    lhs_input = Input(shape=(VECTOR_SIZE,))
    lhs = dense(1024, kernel_initializer="glorot_uniform", activation="relu")(lhs_input)
    rhs_input = Input(shape=(VECTOR_SIZE,))
    rhs = dense(1024, kernel_initializer="glorot_uniform", activation="relu")(rhs_input)
    sim = Lambda(euclidean_distance, output_shape=euclidean_distance_output_shape)([lhs, rhs])
    model = Model([lhs_input, rhs_input], sim)  # added
    return SimpleNamespace(model=model, sim=sim, lhs=lhs, rhs=rhs, models={"euclidean_distance": model})


# ---- the test harness and the custom layer ---------------------------------------------------
def test_layer_model(layer, x):
    """The first half of the seed's ``test_layer``: rebuild ``layer`` from its config with
    ``input_shape = x.shape`` and put it in a Sequential model."""
    from irgraph.models import Sequential
    layer_config = layer.get_config()
    layer_config["input_shape"] = x.shape
    layer = layer.__class__.from_config(layer_config)
    model = Sequential()
    model.add(layer)
    # model.compile("rmsprop", "mse"): left out (training is a later issue; predict needs no compile)
    return model


def test_layer(layer, x):
    """The seed's harness: run ``layer`` (rebuilt from its config) on one sample ``x``."""
    model = test_layer_model(layer, x)
    x_ = np.expand_dims(x, axis=0)
    return model.predict(x_)[0]


test_layer.__test__ = False  # not a pytest test
test_layer_model.__test__ = False


def s004_harness_checks(seed=0):
    """The seed's three harness checks on Keras layers (Dropout, ZeroPadding2D, Reshape)."""
    from irgraph.layers.core import Dropout, Reshape
    from irgraph.layers.convolutional import ZeroPadding2D
    np.random.seed(seed)
    out = {}

    x = np.random.randn(10, 10)
    layer = Dropout(0.5)
    y = test_layer(layer, x)
    assert (x.shape == y.shape)
    out["dropout"] = (layer, x, y)

    x = np.random.randn(10, 10, 3)
    layer = ZeroPadding2D(padding=(1, 1))
    y = test_layer(layer, x)
    assert (x.shape[0] + 2 == y.shape[0])
    assert (x.shape[1] + 2 == y.shape[1])
    out["zero_padding"] = (layer, x, y)

    x = np.random.randn(10, 10)
    layer = Reshape((5, 20))
    y = test_layer(layer, x)
    assert (y.shape == (5, 20))
    out["reshape"] = (layer, x, y)
    return out


def s004_harness_models(seed=0):
    """The harness checks, with the harness's Sequential models kept to export (added)."""
    checks = s004_harness_checks(seed)
    models = {name: test_layer_model(layer, x) for name, (layer, x, _) in checks.items()}
    return SimpleNamespace(checks=checks, models=models)


from irgraph import backend as K  # noqa: E402 -- the seed's imports for its custom layer
from irgraph.engine.topology import Layer, InputSpec  # noqa: E402,F401


class LocalResponseNormalization(Layer):

    def __init__(self, n=5, alpha=0.0005, beta=0.75, k=2, **kwargs):
        self.n = n
        self.alpha = alpha
        self.beta = beta
        self.k = k
        super(LocalResponseNormalization, self).__init__(**kwargs)

    def build(self, input_shape):
        self.shape = input_shape
        super(LocalResponseNormalization, self).build(input_shape)

    def call(self, x, mask=None):
        # the seed compares the function K.image_dim_ordering to "th" (always False); calling it
        # gives the same channels_last path under the default ordering
        if K.image_dim_ordering() == "th":
            _, f, r, c = self.shape
        else:
            _, r, c, f = self.shape
        squared = K.square(x)
        # the seed's `(n, n)` is an undefined name: self.n
        pooled = K.pool2d(squared, (self.n, self.n), strides=(1, 1),
                          padding="same", pool_mode="avg")
        if K.image_dim_ordering() == "th":
            summed = K.sum(pooled, axis=1, keepdims=True)
            averaged = self.alpha * K.repeat_elements(summed, f, axis=1)
        else:
            summed = K.sum(pooled, axis=3, keepdims=True)
            averaged = self.alpha * K.repeat_elements(summed, f, axis=3)
        denom = K.pow(self.k + averaged, self.beta)
        return x / denom

    def get_output_shape_for(self, input_shape):
        return input_shape


def s004_lrn(seed=0, size=225):
    """The seed's LRN check: ``x = np.random.randn(225, 225, 3)`` through the harness."""
    np.random.seed(seed)
    x = np.random.randn(size, size, 3)
    layer = LocalResponseNormalization()
    y = test_layer(layer, x)
    assert (x.shape == y.shape)
    model = test_layer_model(layer, x)  # added: the harness's model, to export
    return SimpleNamespace(layer=layer, x=x, y=y, model=model, models={"lrn": model})


# =============================================================================================
# registry: every listing, with the sizes the tests and run_seeds.py use
# =============================================================================================
def listings(small=True):
    """``[(key, builder)]`` for every listing; ``builder()`` returns the listing's namespace."""
    s = SMALL if small else {"image_size": 256, "vqa_image_size": 32, "video_frames": 4}
    img, vimg, frames = s["image_size"], s["vqa_image_size"], s["video_frames"]
    return [
        ("000/mlp", k1_mlp),
        ("000/model_reuse", k1_model_reuse),
        ("000/multi_io", k1_multi_io),
        ("000/shared_lstm", lambda: k1_shared_lstm(140)),
        ("000/node_accessors", lambda: k1_node_accessors(140)),
        ("000/inception", lambda: k1_inception(img)),
        ("000/residual", lambda: k1_residual(img)),
        ("000/shared_vision", k1_shared_vision),
        ("000/vqa_video", lambda: k1_vqa_video(vimg, frames)),
        ("001/mlp", k2_mlp),
        ("001/model_reuse", k2_model_reuse),
        ("001/multi_io", k2_multi_io),
        ("001/shared_lstm", lambda: k2_shared_lstm(280)),
        ("001/node_accessors", lambda: k2_node_accessors(280)),
        ("001/inception", lambda: k2_inception(img)),
        ("001/residual", lambda: k2_residual(img)),
        ("001/shared_vision", k2_shared_vision),
        ("001/vqa_video", lambda: k2_vqa_video(vimg, frames)),
        # seed 003 is seed 001's text with (140, 256) tweets
        ("003/mlp", k2_mlp),
        ("003/model_reuse", k2_model_reuse),
        ("003/multi_io", k2_multi_io),
        ("003/shared_lstm", lambda: k2_shared_lstm(140)),
        ("003/node_accessors", lambda: k2_node_accessors(140)),
        ("003/inception", lambda: k2_inception(img)),
        ("003/residual", lambda: k2_residual(img)),
        ("003/shared_vision", k2_shared_vision),
        ("003/vqa_video", lambda: k2_vqa_video(vimg, frames)),
        ("004/sequential_mlp", s004_sequential_mlp),
        ("004/functional_mlp", s004_functional_mlp),
        ("004/time_distributed", s004_time_distributed),
        ("004/regression", s004_regression),
        ("004/autoencoder", s004_autoencoder),
        ("004/memory_network", s004_memory_network),
        ("004/square_lambda", s004_square_lambda),
        ("004/euclidean_distance", s004_euclidean_distance),
        ("004/test_layer", s004_harness_models),
        ("004/lrn", s004_lrn),
    ]


# ---- inputs ----------------------------------------------------------------------------------
def _index_range(model, tensor):
    """If ``tensor`` (an input of ``model``) feeds an Embedding, directly or through nested models,
    the Embedding's ``input_dim``; else None."""
    from irgraph.layers.embeddings import Embedding
    from irgraph.models import Model
    for node in getattr(model, "_nodes", []):
        for pos, t in enumerate(node.input_tensors):
            if t is not tensor:
                continue
            layer = node.layer
            if isinstance(layer, Embedding):
                return layer.input_dim
            if isinstance(layer, Model) and pos < len(layer._inputs):
                r = _index_range(layer, layer._inputs[pos])
                if r is not None:
                    return r
            inner = getattr(layer, "layer", None)  # TimeDistributed / Bidirectional
            if isinstance(inner, Embedding):
                return inner.input_dim
    return None


def random_inputs(model, batch=2, seed=0):
    """Seeded random arrays for every input of ``model``: word ids (below the Embedding's
    ``input_dim``) for inputs feeding an Embedding, standard normal float32 otherwise."""
    rng = np.random.default_rng(seed)
    arrays = []
    for t in model.inputs:
        shape = (batch,) + tuple(t.shape[1:])
        high = _index_range(model, t)
        if high is not None or np.dtype(t.dtype).kind in "iu":
            a = rng.integers(0, high or 10, size=shape).astype(t.dtype)
        else:
            a = rng.standard_normal(shape).astype(t.dtype)
        arrays.append(a)
    return arrays
