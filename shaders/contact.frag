#version 330 core
// Soft contact shadow on the face (arfx.render.contact): the darkness interpolated from the
// vertices multiplies the picture (blend DST_COLOR, ZERO). No discard where it is 0: a factor
// of exactly 1 changes nothing, and without discard llvmpipe tests depth before shading.
in float v_shade;
out vec4 f_color;

void main() {
    f_color = vec4(vec3(1.0 - v_shade), 1.0);
}
