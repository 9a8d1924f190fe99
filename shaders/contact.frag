#version 330 core
// Soft contact shadow on the face (arfx.render.contact): the darkness interpolated from the
// vertices multiplies the picture (blend DST_COLOR, ZERO).
in float v_shade;
out vec4 f_color;

void main() {
    if (v_shade <= 0.002) {
        discard;
    }
    f_color = vec4(vec3(1.0 - v_shade), 1.0);
}
