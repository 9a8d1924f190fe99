#version 330 core
in vec2 v_uv;
uniform sampler2D u_mask;  // person probability, row 0 = the image's top
out vec4 f_color;

void main() {
    if (texture(u_mask, v_uv).r < 0.5) {
        discard;
    }
    f_color = vec4(0.0);
}
