#version 330 core
uniform vec4 u_color;
uniform bool u_round;
out vec4 f_color;

void main() {
    if (u_round && length(gl_PointCoord - vec2(0.5)) > 0.5) {
        discard;
    }
    f_color = u_color;
}
