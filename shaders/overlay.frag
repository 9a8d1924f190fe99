#version 330 core
// Premultiplied RGBA: blended with (ONE, ONE_MINUS_SRC_ALPHA) over the picture.
in vec2 v_uv;
uniform sampler2D u_overlay;
out vec4 f_color;

void main() {
    f_color = texture(u_overlay, v_uv);
}
