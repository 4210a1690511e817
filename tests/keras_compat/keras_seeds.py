"""The seed models written for Keras 3 itself (torch backend): the independent side of the tests
that read files Keras writes. Each builder returns ``(model, inputs, custom_objects)``: a Keras 3
model (compiled, so that its file carries a training configuration), a batch of inputs, and what
irgraph needs to load it (the functions and classes a file names but never holds).

Sizes are the seeds' where they are cheap, smaller where a file would be large (vocabularies,
images): what is tested is the reading of the file, not the size."""
import numpy as np

from tests.keras_compat.keras_torch import keras

layers = keras.layers


def _rng(seed=0):
    return np.random.default_rng(seed)


def mlp():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    out = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, out)
    model.compile("rmsprop", "categorical_crossentropy", metrics=["accuracy"])
    return model, _rng().random((4, 784), dtype=np.float32), {}


def multi_io(vocab=1000, length=100):
    main_input = keras.Input(shape=(length,), dtype="int32", name="main_input")
    x = layers.Embedding(output_dim=64, input_dim=vocab)(main_input)
    lstm_out = layers.LSTM(32)(x)
    aux_output = layers.Dense(1, activation="sigmoid", name="aux_output")(lstm_out)
    aux_input = keras.Input(shape=(5,), name="aux_input")
    x = layers.concatenate([lstm_out, aux_input])
    for _ in range(3):
        x = layers.Dense(64, activation="relu")(x)
    main_output = layers.Dense(1, activation="sigmoid", name="main_output")(x)
    model = keras.Model([main_input, aux_input], [main_output, aux_output])
    model.compile(optimizer="rmsprop", loss={"main_output": "binary_crossentropy", "aux_output":
                                             "binary_crossentropy"},
                  loss_weights={"main_output": 1.0, "aux_output": 0.2})
    r = _rng()
    return model, [r.integers(0, vocab, (3, length)).astype(np.int32), r.random((3, 5), dtype=np.float32)], {}


def shared_lstm(length=20):
    a, b = keras.Input(shape=(length, 256)), keras.Input(shape=(length, 256))
    lstm = layers.LSTM(64)
    merged = layers.concatenate([lstm(a), lstm(b)], axis=-1)
    out = layers.Dense(1, activation="sigmoid")(merged)
    model = keras.Model([a, b], out)
    model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"])
    r = _rng()
    return model, [r.random((2, length, 256), dtype=np.float32), r.random((2, length, 256), dtype=np.float32)], {}


def inception(size=32):
    img = keras.Input(shape=(size, size, 3))
    t1 = layers.Conv2D(64, (1, 1), padding="same", activation="relu")(img)
    t1 = layers.Conv2D(64, (3, 3), padding="same", activation="relu")(t1)
    t2 = layers.Conv2D(64, (1, 1), padding="same", activation="relu")(img)
    t2 = layers.Conv2D(64, (5, 5), padding="same", activation="relu")(t2)
    t3 = layers.MaxPooling2D((3, 3), strides=(1, 1), padding="same")(img)
    t3 = layers.Conv2D(64, (1, 1), padding="same", activation="relu")(t3)
    out = layers.concatenate([t1, t2, t3], axis=1)
    model = keras.Model(img, out)
    model.compile("sgd", "mse")
    return model, _rng().random((2, size, size, 3), dtype=np.float32), {}


def residual(size=32):
    x = keras.Input(shape=(size, size, 3))
    y = layers.Conv2D(3, (3, 3), padding="same")(x)
    model = keras.Model(x, layers.add([x, y]))
    model.compile("adam", "mse")
    return model, _rng().random((2, size, size, 3), dtype=np.float32), {}


def shared_vision():
    digit = keras.Input(shape=(27, 27, 1))
    x = layers.Conv2D(64, (3, 3))(digit)
    x = layers.Conv2D(64, (3, 3))(x)
    x = layers.MaxPooling2D((2, 2))(x)
    vision = keras.Model(digit, layers.Flatten()(x))
    a, b = keras.Input(shape=(27, 27, 1)), keras.Input(shape=(27, 27, 1))
    merged = layers.concatenate([vision(a), vision(b)])
    model = keras.Model([a, b], layers.Dense(1, activation="sigmoid")(merged))
    model.compile("adam", "binary_crossentropy")
    r = _rng()
    return model, [r.random((2, 27, 27, 1), dtype=np.float32), r.random((2, 27, 27, 1), dtype=np.float32)], {}


def vqa(size=32, vocab=1000, length=20):
    vision = keras.Sequential([
        keras.Input(shape=(size, size, 3)),
        layers.Conv2D(16, (3, 3), activation="relu", padding="same"),
        layers.Conv2D(16, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation="relu", padding="same"),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten()])
    image = keras.Input(shape=(size, size, 3))
    question = keras.Input(shape=(length,), dtype="int32")
    encoded_q = layers.LSTM(64)(layers.Embedding(input_dim=vocab, output_dim=32)(question))
    merged = layers.concatenate([encoded_q, vision(image)])
    model = keras.Model([image, question], layers.Dense(100, activation="softmax")(merged))
    model.compile("adam", "categorical_crossentropy")
    r = _rng()
    return model, [r.random((2, size, size, 3), dtype=np.float32),
                   r.integers(0, vocab, (2, length)).astype(np.int32)], {}


def video_qa(size=16, frames=3, vocab=500, length=10):
    vision = keras.Sequential([keras.Input(shape=(size, size, 3)),
                               layers.Conv2D(8, (3, 3), activation="relu"),
                               layers.MaxPooling2D((2, 2)), layers.Flatten()])
    video = keras.Input(shape=(frames, size, size, 3))
    encoded_video = layers.LSTM(32)(layers.TimeDistributed(vision)(video))
    question = keras.Input(shape=(length,), dtype="int32")
    encoded_q = layers.LSTM(32)(layers.Embedding(input_dim=vocab, output_dim=16)(question))
    merged = layers.concatenate([encoded_video, encoded_q])
    model = keras.Model([video, question], layers.Dense(50, activation="softmax")(merged))
    model.compile("adam", "categorical_crossentropy")
    r = _rng()
    return model, [r.random((2, frames, size, size, 3), dtype=np.float32),
                   r.integers(0, vocab, (2, length)).astype(np.int32)], {}


def autoencoder(seq_len=12, embed=16, latent=32):
    inputs = keras.Input(shape=(seq_len, embed), name="input")
    encoded = layers.Bidirectional(layers.LSTM(latent), merge_mode="sum", name="encoder_lstm")(inputs)
    decoded = layers.RepeatVector(seq_len, name="repeater")(encoded)
    decoded = layers.Bidirectional(layers.LSTM(embed, return_sequences=True), merge_mode="sum",
                                   name="decoder_lstm")(decoded)
    model = keras.Model(inputs, decoded)
    model.compile("sgd", "mse")
    return model, _rng().random((2, seq_len, embed), dtype=np.float32), {}


def memory_network(vocab=22, story_len=14, question_len=4):
    story, question = keras.Input(shape=(story_len,)), keras.Input(shape=(question_len,))
    story_m = layers.Dropout(0.3)(layers.Embedding(vocab, 64)(story))
    question_m = layers.Dropout(0.3)(layers.Embedding(vocab, 64)(question))
    match = layers.dot([story_m, question_m], axes=[2, 2])
    story_c = layers.Dropout(0.3)(layers.Embedding(vocab, question_len)(story))
    response = layers.Permute((2, 1))(layers.add([match, story_c]))
    answer = layers.concatenate([response, question_m], axis=-1)
    answer = layers.Dropout(0.3)(layers.LSTM(32)(answer))
    out = layers.Activation("softmax")(layers.Dense(vocab)(answer))
    model = keras.Model([story, question], out)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    r = _rng()
    return model, [r.integers(0, vocab, (3, story_len)).astype(np.float32),
                   r.integers(0, vocab, (3, question_len)).astype(np.float32)], {}


def euclidean_distance(vecs):
    """The seed's Lambda function, in Keras 3's ops (the file stores only its name)."""
    x, y = vecs
    return keras.ops.sqrt(keras.ops.sum(keras.ops.square(x - y), axis=1, keepdims=True))


def irgraph_euclidean_distance(vecs):
    """The same function for irgraph, given at load time by custom_objects."""
    from irgraph import backend as K
    x, y = vecs
    return K.sqrt(K.sum(K.square(x - y), axis=1, keepdims=True))


def euclidean_lambda(size=100):
    a, b = keras.Input(shape=(size,)), keras.Input(shape=(size,))
    lhs = layers.Dense(64, activation="relu")(a)
    rhs = layers.Dense(64, activation="relu")(b)
    sim = layers.Lambda(euclidean_distance, output_shape=(1,))([lhs, rhs])
    model = keras.Model([a, b], sim)
    model.compile("adam", "mse")
    r = _rng()
    return (model, [r.random((2, size), dtype=np.float32), r.random((2, size), dtype=np.float32)],
            {"euclidean_distance": irgraph_euclidean_distance})


@keras.saving.register_keras_serializable(package="seeds")
class Scale(keras.layers.Layer):
    """A custom layer with a weight: y = x * scale (one scale per feature)."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="scale")

    def call(self, x):
        return x * self.scale


def irgraph_scale_class():
    """Scale written for irgraph (what a user passes in custom_objects)."""
    from irgraph import backend as K
    from irgraph.layers import Layer

    class IrScale(Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="scale")
            super().build(input_shape)

        def call(self, x):
            return x * self.scale

        def compute_output_shape(self, input_shape):
            return input_shape

    return IrScale


def custom_layer():
    inputs = keras.Input(shape=(8,))
    x = Scale(name="scale")(layers.Dense(8)(inputs))
    model = keras.Model(inputs, layers.Dense(2)(x))
    model.compile("adam", "mse")
    return model, _rng().random((3, 8), dtype=np.float32), {"Scale": irgraph_scale_class()}


def time_distributed_mlp(steps=5):
    """Seed 001/003's model reuse: the MLP applied to every step with TimeDistributed(model)."""
    inner, _, _ = mlp()
    sequences = keras.Input(shape=(steps, 784))
    model = keras.Model(sequences, layers.TimeDistributed(inner)(sequences))
    model.compile("rmsprop", "categorical_crossentropy")
    return model, _rng().random((2, steps, 784), dtype=np.float32), {}


def square_lambda(size=16):
    """Seed 004's ``Lambda(lambda x: x ** 2)``: Keras stores the lambda's bytecode, which irgraph
    never runs; the function is given by the Lambda layer's name."""
    model = keras.Sequential([keras.Input((size,)), layers.Lambda(lambda x: x ** 2, name="square"),
                              layers.Dense(3)])
    model.compile("adam", "mse")
    return model, _rng().random((2, size), dtype=np.float32), {"square": lambda x: x ** 2}


SEED_MODELS = {
    "time_distributed_mlp": time_distributed_mlp, "square_lambda": square_lambda,
    "mlp": mlp, "multi_io": multi_io, "shared_lstm": shared_lstm, "inception": inception,
    "residual": residual, "shared_vision": shared_vision, "vqa": vqa, "video_qa": video_qa,
    "autoencoder": autoencoder, "memory_network": memory_network,
    "euclidean_lambda": euclidean_lambda, "custom_layer": custom_layer,
}
